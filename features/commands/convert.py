"""`workbench convert OLD.h5 NEW_DIR`: copy a version-1 store file into a store directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..exceptions import FeaturesError
from ..store.segments import SegmentStore
from ..store.v1 import convert_v1, is_v1_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="the version-1 file (only read)")
    parser.add_argument("target", type=Path, help="a store directory (created if absent)")


def run(args: argparse.Namespace) -> int:
    if not is_v1_store(args.source.expanduser()):
        raise FeaturesError(f"{args.source} is not a version-1 store file")
    copied = convert_v1(args.source.expanduser(), SegmentStore(args.target))
    for fingerprint, rows in copied.items():
        print(f"{fingerprint}: {rows} vectors copied")
    print(f"{args.target} is ready; {args.source} was not changed (remove it when you no longer need it)")
    return 0
