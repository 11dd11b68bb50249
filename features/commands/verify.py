"""`workbench verify STORE [--repair]`: every segment, index and record checked, like git fsck."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..store.open import open_existing
from ..store.verify import verify_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", type=Path)
    parser.add_argument(
        "--repair",
        action="store_true",
        help="quarantine damaged segments (good rows kept), rebuild store.json",
    )


def run(args: argparse.Namespace) -> int:
    result = verify_store(open_existing(args.store), repair=args.repair)
    for line in result.lines():
        print(line)
    return 1 if result.damaged and not args.repair else 0
