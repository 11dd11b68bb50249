"""Stage `prepare`: scan data.root, settle duplicates, write a seeded stratified split."""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from pathlib import Path

from ..config import DataParams
from ..params import read_block
from ..scan import scan_folder
from ..splits import SPLITS, Row, stratified_split, write_splits


def run(*, params: DataParams, splits_path: Path, excluded_path: Path) -> list[Row]:
    root = Path(params.root).expanduser()
    scan = scan_folder(root)
    labels = [item.label for item in scan.items]
    assignment = stratified_split(labels, params.split, params.seed)
    rows = [Row(i.path, i.label, s, i.sha256) for i, s in zip(scan.items, assignment, strict=True)]
    write_splits(splits_path, rows)
    _write_excluded(excluded_path, scan.excluded)

    counts = Counter(r.split for r in rows)
    print(
        f"prepare: {len(rows)} images in {len(set(labels))} classes from {root} -> "
        + ", ".join(f"{s} {counts[s]}" for s in SPLITS)
    )
    for entry in scan.excluded:
        print(f"  excluded {entry.path}: {entry.reason}")
    if scan.ignored:
        print(f"  ignored {len(scan.ignored)} files without an image extension, e.g. {scan.ignored[:3]}")
    return rows


def _write_excluded(path: Path, excluded) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("path", "reason"))
        writer.writerows((e.path, e.reason) for e in excluded)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="workbench prepare", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--splits", type=Path, required=True)
    parser.add_argument("--excluded", type=Path, required=True)
    args = parser.parse_args(argv)
    run(
        params=read_block("data", DataParams, args.params),
        splits_path=args.splits,
        excluded_path=args.excluded,
    )
