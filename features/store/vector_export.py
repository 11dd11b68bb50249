"""Export one extractor's vectors from a store to .npz or .parquet, for other tools."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..exceptions import FeaturesError
from .base import Store

FORMATS = (".npz", ".parquet")


def choose_fingerprint(store: Store, fingerprint: str | None) -> str:
    """The one fingerprint asked for, or the store's only one; otherwise say which exist."""
    known = store.fingerprints()
    if fingerprint is None and len(known) == 1:
        return next(iter(known))
    if fingerprint in known:
        return fingerprint
    listing = "; ".join(
        f"{fp} ({spec['arch']} {spec['weights']}, {spec['count']} vectors)" for fp, spec in known.items()
    )
    if not known:
        raise FeaturesError(f"{store.path} holds no vectors")
    what = "several extractors" if fingerprint is None else f"no extractor {fingerprint}"
    raise FeaturesError(f"{store.path} holds {what}; pass --fingerprint, one of: {listing}")


def export_vectors(store: Store, fingerprint: str, out: Path) -> int:
    """Write keys, vectors (float32) and known paths ("" where unknown); returns the row count."""
    if out.suffix not in FORMATS:
        raise FeaturesError(f"--out {out}: choose a file ending in one of {list(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        return _parquet(store, fingerprint, out)
    keys, vectors, paths = [], [], []
    for block_keys, block_vectors, block_paths in store.rows(fingerprint):
        keys += block_keys
        vectors.append(block_vectors)
        paths += block_paths
    dim = store.fingerprints()[fingerprint]["dim"]
    np.savez(
        out,
        keys=np.array(keys, dtype="U64"),
        vectors=np.concatenate(vectors) if vectors else np.empty((0, dim), np.float32),
        paths=np.array(paths, dtype=str),
        fingerprint=np.array(fingerprint),
    )
    return len(keys)


def _parquet(store: Store, fingerprint: str, out: Path) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise FeaturesError(
            'writing .parquet needs pyarrow: pip install -e ".[parquet]" (or write .npz)'
        ) from None
    dim = store.fingerprints()[fingerprint]["dim"]
    schema = pa.schema(
        [("key", pa.string()), ("path", pa.string()), ("vector", pa.list_(pa.float32(), dim))],
        metadata={"fingerprint": fingerprint},
    )
    rows = 0
    with pq.ParquetWriter(out, schema) as writer:  # block by block: memory stays bounded
        for keys, vectors, paths in store.rows(fingerprint):
            flat = pa.array(np.ascontiguousarray(vectors).ravel(), pa.float32())
            column = pa.FixedSizeListArray.from_arrays(flat, dim)
            writer.write_table(pa.table({"key": keys, "path": paths, "vector": column}, schema=schema))
            rows += len(keys)
    return rows
