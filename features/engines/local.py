"""The local engine: DataLoader workers on this machine decode, the network embeds what is new."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..extraction.claims import Claims, Verdict
from ..extraction.plan import Plan, plan_extraction
from ..extraction.recorder import EmbeddedBatch, record_all
from ..extraction.report import ExtractionReport
from ..hashing.keys import to_raw
from ..images.loader import ImageTransform, Reindexed, default_num_workers, make_loader
from ..networks.extractor import Extractor, ExtractorConfig
from ..store.base import Store

if TYPE_CHECKING:
    from .settings import EngineSettings


def prepare(store: Store, config: ExtractorConfig, how: EngineSettings) -> tuple[Extractor, str]:
    """The extractor this engine runs, on `how.device` (a CPU runtime's export kept beside the
    store), and where that is in words."""
    extractor = config.create(how.device, store.exports())
    return extractor, f"on {extractor.device}"


def run(
    paths: Sequence[str | os.PathLike],
    store: Store,
    extractor: Extractor,
    keys: Sequence[str] | None,
    how: EngineSettings,
    progress: bool = True,
    transform: ImageTransform | None = None,
) -> ExtractionReport:
    """`extract` (extraction/extract.py) on this machine: plan, decode and embed what is new, record."""
    start = time.perf_counter()
    plan = plan_extraction(paths, store, extractor.fingerprint, keys)
    if not len(plan.todo):
        report = plan.empty_report()
    else:
        workers = default_num_workers(extractor.device) if how.num_workers is None else how.num_workers
        report = record_all(
            plan,
            store,
            extractor.spec,
            local_batches(plan, store, extractor, how.batch_size, workers, transform),
            "embedding",
            progress,
            with_paths=transform is None,  # a transformed image's vector is not that file's
        )
    report.seconds = time.perf_counter() - start
    return report


def local_batches(
    plan: Plan,
    store: Store,
    extractor: Extractor,
    batch_size: int,
    num_workers: int,
    transform: ImageTransform | None = None,
) -> Iterator[EmbeddedBatch]:
    """This machine's engine: DataLoader workers decode (and hash the stale files), the
    network runs on what is new."""
    todo = plan.todo.tolist()
    loader = make_loader(
        [plan.path(i) for i in todo],
        extractor.backbone.preprocessing,
        batch_size,
        num_workers,
        pin_memory=extractor.device.type == "cuda",
        transform=Reindexed(transform, todo) if transform else None,
        hash=plan.is_stale(plan.todo),
    )
    claims = Claims(*plan.known_keys(store)) if len(plan.stale) else None
    for batch in loader:
        learned = {todo[row]: key for row, key in batch.keys.items()}
        positions = [todo[row] for row in batch.positions]
        verdicts = [Verdict.EMBED] * len(positions)
        hashed = np.flatnonzero(plan.is_stale(positions)).tolist() if positions else []
        if hashed:  # files the plan did not know: their bytes may be stored, or repeated in this run
            asked = claims.claim([learned[positions[i]] for i in hashed], [positions[i] for i in hashed])
            for i, verdict in zip(hashed, asked, strict=True):
                verdicts[i] = verdict
        _published_since(store, plan, positions, learned, verdicts)
        new = [row for row, verdict in enumerate(verdicts) if verdict is Verdict.EMBED]
        yield EmbeddedBatch(
            positions,
            verdicts,
            extractor(batch.images[new]) if new else np.empty((0, extractor.dim), np.float32),
            [(todo[row], reason) for row, reason in batch.failures],
            learned,
        )


def _published_since(
    store: Store, plan: Plan, positions: list[int], learned: dict[int, str], verdicts: list[Verdict]
) -> None:
    """STORED for what another writer published since the plan was made: writers that overlap
    (two runs over one folder) then share the work instead of computing it twice."""
    embed = [i for i, verdict in enumerate(verdicts) if verdict is Verdict.EMBED]
    if not embed:
        return
    raw = plan.raw[[positions[i] for i in embed]]  # a copy: the keys learned go in it
    hashed = [row for row, i in enumerate(embed) if positions[i] in learned]
    if hashed:
        raw[hashed] = to_raw([learned[positions[embed[row]]] for row in hashed])
    for i, have in zip(embed, store.contains(plan.fingerprint, raw), strict=True):
        if have:
            verdicts[i] = Verdict.STORED
