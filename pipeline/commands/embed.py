"""Stage `embed`: vectors for every row of splits.csv, from the store, computing only what is new."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from features.cli import print_incidents
from features.hashing.cache import HashCache, hash_files
from features.networks.int8 import Calibration
from features.store.base import StoredVectors
from features.store.open import open_store

from ..artifacts.embeddings import Embeddings, save_embeddings
from ..artifacts.feature_source import FeatureSource
from ..data.params import DataParams
from ..data.splits import read_splits
from ..embedding.params import BackboneParams, EmbedParams
from ..embedding.vectors import read_stored
from ..exceptions import DataError
from .arguments import parse_stage


def run(
    *, data: DataParams, backbone: BackboneParams, params: EmbedParams, splits_path: Path, out: Path
) -> Embeddings:
    rows = read_splits(splits_path)
    root = Path(data.root).expanduser()
    paths = [str(root / r.path) for r in rows]
    keys = [r.sha256 for r in rows]
    store = open_store(params.store)
    _check_unchanged(paths, keys, store.hash_cache())

    classes = sorted({r.label for r in rows})
    index = {name: i for i, name in enumerate(classes)}

    def write(extractor) -> Embeddings:
        embeddings = Embeddings(
            vectors=StoredVectors(store, extractor.fingerprint, keys),  # written a block at a time
            labels=np.array([index[r.label] for r in rows]),
            split=np.array([r.split for r in rows]),
            paths=np.array([r.path for r in rows]),
            keys=np.array(keys),
            classes=classes,
            fingerprint=extractor.fingerprint,
            spec=extractor.spec,
            recipe=FeatureSource.of(extractor).recipe,
        )
        save_embeddings(out, embeddings)
        return embeddings

    calibration = None
    if params.precision == "int8":  # drawn from train: the images a head learns from
        train = [i for i, r in enumerate(rows) if r.split == "train"]
        calibration = Calibration.sample(
            [paths[i] for i in train], [keys[i] for i in train], params.calibration, seed=data.seed
        )
    _, report, embeddings = read_stored(backbone, params, store, paths, keys, "embed", write, calibration)
    print(f"embed: {len(rows)} images -> {out}: {report.summary()}")
    print_incidents(store, "embed: store: ")
    return embeddings


def _check_unchanged(paths: list[str], keys: list[str], cache: HashCache | None) -> None:
    # A file edited after prepare would otherwise be paired with another image's vector.
    current, unreadable = hash_files(paths, cache)
    if unreadable:
        position, reason = next(iter(unreadable.items()))
        raise DataError(
            f"{len(unreadable)} images listed by prepare cannot be read (e.g. {paths[position]}: "
            f"{reason}); run `dvc repro`"
        )
    changed = [p for p, old, new in zip(paths, keys, current, strict=True) if old != new]
    if changed:
        raise DataError(
            f"{len(changed)} images changed since prepare (e.g. {changed[:3]}); "
            "run `dvc repro` so prepare re-hashes them"
        )


def main(argv: list[str] | None = None) -> None:
    params, args = parse_stage("embed", __doc__, argv, paths={"splits": "", "out": ""})
    run(
        data=params.block("data", DataParams),
        backbone=params.block("backbone", BackboneParams),
        params=params.block("embed", EmbedParams),
        splits_path=args.splits,
        out=args.out,
    )
