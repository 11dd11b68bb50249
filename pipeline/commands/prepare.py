"""Stage `prepare`: scan data.root, settle duplicates, write a seeded stratified split.

With data.near_duplicates.group, the images are embedded first (through the feature store,
so the embed stage then computes nothing) and each group of near-duplicates is kept in one split.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from features import FeatureStore

from ..analysis.near_duplicates import near_duplicate_groups
from ..data.params import DataParams, NearDuplicateParams
from ..data.scan import scan_folder
from ..data.splits import SPLITS, Row, keep_groups_together, stratified_split, write_splits
from ..embedding.params import BackboneParams, EmbedParams
from ..embedding.vectors import read_stored
from .arguments import parse_stage


def run(
    *,
    params: DataParams,
    splits_path: Path,
    excluded_path: Path,
    backbone: BackboneParams | None = None,
    embed: EmbedParams | None = None,
) -> list[Row]:
    root = Path(params.root).expanduser()
    scan = scan_folder(root)
    labels = [item.label for item in scan.items]
    assignment = stratified_split(labels, params.split, params.seed)
    if params.near_duplicates.group:
        if backbone is None or embed is None:
            raise ValueError("data.near_duplicates.group embeds the images: pass backbone and embed params")
        assignment = _group_near_duplicates(scan, root, assignment, params.near_duplicates, backbone, embed)
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


def _group_near_duplicates(
    scan, root: Path, assignment, near: NearDuplicateParams, backbone, embed
) -> list[str]:
    paths = [str(root / item.path) for item in scan.items]
    keys = [item.sha256 for item in scan.items]
    store = FeatureStore(embed.store)
    *_, vectors = read_stored(
        backbone,
        embed,
        store,
        paths,
        keys,
        "prepare",
        lambda extractor: store.get(extractor.fingerprint, keys),
    )
    ids = near_duplicate_groups(vectors, near.threshold, near.components)
    assignment, moved = keep_groups_together(assignment, ids)
    print(
        f"prepare: {len(ids) - len(set(ids))} near-duplicates joined to a group (cosine above "
        f"{near.threshold} after PCA whitening); {moved} images moved to keep each group in one split"
    )
    return assignment


def _write_excluded(path: Path, excluded) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("path", "reason"))
        writer.writerows((e.path, e.reason) for e in excluded)


def main(argv: list[str] | None = None) -> None:
    params, args = parse_stage("prepare", __doc__, argv, paths={"splits": "", "excluded": ""})
    run(
        params=params.block("data", DataParams),
        splits_path=args.splits,
        excluded_path=args.excluded,
        backbone=params.block("backbone", BackboneParams),  # bad values stop here, grouping or not
        embed=params.block("embed", EmbedParams),
    )
