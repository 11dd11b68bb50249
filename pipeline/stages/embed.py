"""Stage `embed`: vectors for every row of splits.csv, from the store, computing only what is new."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from features import FeatureStore, StoredVectors
from features.hash_cache import HashCache, hash_files

from ..config import BackboneParams, DataParams, EmbedParams
from ..embeddings import Embeddings, save_embeddings
from ..exceptions import DataError
from ..feature_source import FeatureSource
from ..network import store_vectors
from ..params import Params
from ..splits import read_splits


def run(
    *, data: DataParams, backbone: BackboneParams, params: EmbedParams, splits_path: Path, out: Path
) -> Embeddings:
    rows = read_splits(splits_path)
    root = Path(data.root).expanduser()
    paths = [str(root / r.path) for r in rows]
    keys = [r.sha256 for r in rows]
    store = FeatureStore(params.store)
    _check_unchanged(paths, keys, store.hash_cache())

    extractor, report = store_vectors(backbone, params, store, paths, keys, "embed")
    classes = sorted({r.label for r in rows})
    index = {name: i for i, name in enumerate(classes)}
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
    print(f"embed: {len(rows)} images -> {out}: {report.summary()}")
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
    parser = argparse.ArgumentParser(prog="workbench embed", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--splits", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params = Params.load(args.params)
    run(
        data=params.block("data", DataParams),
        backbone=params.block("backbone", BackboneParams),
        params=params.block("embed", EmbedParams),
        splits_path=args.splits,
        out=args.out,
    )
