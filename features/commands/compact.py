"""`workbench compact STORE`: publish what dead writers left, merge segments into one."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..store.open import open_existing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", type=Path)
    parser.add_argument("--fingerprint", help="only this extractor's segments")


def run(args: argparse.Namespace) -> int:
    store = open_existing(args.store)
    store.check_writable()  # a version-1 file says to convert it
    print(store.compact(args.fingerprint))
    return 0
