"""Stage `prepare`: the task's images (class folders or a label table) checked, and their split.

The split is the one a label table gives (its split column), or else seeded and stratified.
With data.near_duplicates.group, the images are embedded first (through the feature store,
so the embed stage then computes nothing) and each group of near-duplicates is kept in one
split; a given split is never changed, its leaks are reported instead.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from features.store.base import Store
from features.store.open import open_store

from ..analysis.near_duplicates import near_duplicate_groups
from ..data.labels import check_given_split, table_candidates, uses_folders
from ..data.params import DataParams, NearDuplicateParams
from ..data.scan import Scan, check_candidates, scan_folder
from ..data.splits import GIVEN, SEEDED, SPLITS, Row, keep_groups_together, stratified_split, write_splits
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
    store = open_store(embed.store) if embed else None  # its hash cache: images read once
    scan, source = _scan(params, root, store)
    labels = [item.label for item in scan.items]
    given = source != SEEDED
    if given:
        assignment = [item.split for item in scan.items]
        check_given_split(list(scan.items), params.labels)
    else:
        assignment = stratified_split(labels, params.split, params.seed)
    if params.near_duplicates.group:
        if backbone is None or embed is None:
            raise ValueError("data.near_duplicates.group embeds the images: pass backbone and embed params")
        assignment = _group_near_duplicates(
            scan, root, assignment, params.near_duplicates, backbone, embed, move=not given
        )
    rows = [Row(i.path, i.label, s, i.sha256, source) for i, s in zip(scan.items, assignment, strict=True)]
    write_splits(splits_path, rows)
    _write_excluded(excluded_path, scan.excluded)

    counts = Counter(r.split for r in rows)
    where = root if uses_folders(params) else f"{params.labels} over {root}"
    print(
        f"prepare: {len(rows)} images in {len(set(labels))} classes from {where} -> "
        + ", ".join(f"{s} {counts[s]}" for s in SPLITS)
        + f" (split {'as given' if given else 'seeded, stratified'}; {scan.read} images read, "
        f"{len(scan.items) + len(scan.excluded) - scan.read} known from the feature store)"
    )
    for entry in scan.excluded:
        print(f"  excluded {entry.path}: {entry.reason}")
    if scan.ignored:
        print(f"  ignored {len(scan.ignored)} files without an image extension or hidden folders, "
              f"e.g. {scan.ignored[:3]}")  # fmt: skip
    excluded, ignored = len(scan.excluded), len(scan.ignored)
    print(f"prepare: {len(rows)} rows, {excluded} excluded ({excluded_path}), {ignored} ignored")
    return rows


def _scan(params: DataParams, root: Path, store: Store | None) -> tuple[Scan, str]:
    """The task's images checked, and where their split comes from."""
    if uses_folders(params):
        return scan_folder(root, store=store), SEEDED
    candidates, repeated = table_candidates(params, root)
    scan = check_candidates(candidates, root, store=store)
    scan.excluded += repeated
    has_split = candidates[0].split is not None
    return scan, (GIVEN if has_split else SEEDED)


def _group_near_duplicates(
    scan, root: Path, assignment, near: NearDuplicateParams, backbone, embed, move: bool
) -> list[str]:
    paths = [str(root / item.path) for item in scan.items]
    keys = [item.sha256 for item in scan.items]
    store = open_store(embed.store)
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
    if not move:
        split_of: dict = {}
        for group, split in zip(ids, assignment, strict=True):
            split_of.setdefault(group, set()).add(split)
        leaking = sum(len(splits) > 1 for splits in split_of.values())
        print(
            f"prepare: data.near_duplicates.group: the split is given, so no image is moved; "
            f"{leaking} groups of near-duplicates span more than one split (the leakage stage lists "
            "the pairs; fix the table's split to keep each group in one)"
        )
        return assignment
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
