"""`workbench export STORE --out FILE`: one extractor's keys, vectors and paths, to .npz or .parquet."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..store.open import open_existing
from ..store.vector_export import choose_fingerprint, export_vectors


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="file.npz or file.parquet (needs pyarrow)")
    parser.add_argument("--fingerprint", help="which extractor (needed when the store holds several)")


def run(args: argparse.Namespace) -> int:
    store = open_existing(args.store)
    fingerprint = choose_fingerprint(store, args.fingerprint)
    rows = export_vectors(store, fingerprint, args.out)
    print(f"exported {rows} vectors of extractor {fingerprint} -> {args.out}")
    return 0
