"""`extract`: make sure a store holds the vector of every image given, on this machine.

Like Ray's batch-inference example: `plan_extraction` (plan.py) decides once, from the keys
known and what the store holds, which files must be decoded; an engine (`engines/local.py`,
or `engines/ray.py` on a cluster) turns those into `EmbeddedBatch`es; one `Recorder`
(recorder.py) writes their vectors, learns the keys hashed on the way, and counts what was
computed, reused and failed, whichever engine made them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..engines import local
from ..engines.settings import EngineSettings
from ..images.loader import ImageTransform
from ..networks.extractor import Extractor
from ..store.base import MissingVectors, Store
from .report import ExtractionReport


def extract(
    paths: Sequence[str | os.PathLike],
    store: Store,
    extractor: Extractor,
    keys: Sequence[str] | None = None,
    batch_size: int = 32,
    num_workers: int | None = None,
    transform: ImageTransform | None = None,
    progress: bool = True,
) -> ExtractionReport:
    """Make sure the store holds a vector for every decodable image in `paths`.

    `keys` defaults to the SHA-256 of each file; pass derived keys with `transform`
    (a perturbation) so the transformed vectors are stored under keys of their own.
    Each distinct key is embedded at most once, and only when the store lacks it. Files the
    store's hash cache does not know unchanged are hashed by the decoders from the bytes
    they read, so hashing runs in parallel with decoding and each file is read once.
    """
    how = EngineSettings(batch_size=batch_size, num_workers=num_workers)
    return local.run(paths, store, extractor, keys, how, progress, transform)


def extract_vectors(
    paths: Sequence[str | os.PathLike],
    store: Store,
    extractor: Extractor,
    keys: Sequence[str] | None = None,
    **options,
) -> tuple[ExtractionReport, np.ndarray]:
    """`extract`, then the vectors of every image that decoded (`report.ok_keys`, in order).
    A vector whose row fails its checks on the way out (its segment is quarantined) is
    computed again, once."""
    report = extract(paths, store, extractor, keys, **options)
    try:
        return report, store.get(extractor.fingerprint, report.ok_keys)
    except MissingVectors:  # lost to a damaged segment just now: missing, so computed again
        report = extract(paths, store, extractor, keys, **options)
        return report, store.get(extractor.fingerprint, report.ok_keys)
