"""Seeded stratified train/valid/test splits and the splits.csv table."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..exceptions import DataError
from .params import SplitParams

SPLITS = ("train", "valid", "test")
COLUMNS = ("path", "label", "split", "sha256", "split_from")
GIVEN, SEEDED = "given", "seeded"  # split_from: the label table's split column, or stratified_split


@dataclass(frozen=True)
class Row:
    path: str
    label: str
    split: str
    sha256: str
    split_from: str = SEEDED


def stratified_split(labels: list[str], fractions: SplitParams, seed: int) -> list[str]:
    """A split name per item; each class is divided in the given fractions.

    Per class, test and valid get round(n * fraction) items (at least one each when the
    fraction is above zero) and train the rest. The shuffle depends only on `seed` and
    the item order, so the same folder always gives the same split.
    """
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_class[label].append(i)
    wanted = {name: getattr(fractions, name) for name in SPLITS}
    needed = sum(1 for f in wanted.values() if f > 0)
    assignment = [""] * len(labels)
    for label in sorted(by_class):
        members = by_class[label]
        if len(members) < needed:
            raise DataError(
                f"class {label!r} has {len(members)} image(s); a {needed}-way split needs at "
                f"least {needed} per class. Add images, remove the class, or set a split "
                "fraction to 0."
            )
        order = rng.permutation(members)
        n_test = max(1, round(len(members) * wanted["test"]))
        n_valid = max(1, round(len(members) * wanted["valid"])) if wanted["valid"] > 0 else 0
        n_test = min(n_test, len(members) - n_valid - 1)  # train keeps at least one
        for j, index in enumerate(order):
            assignment[index] = "test" if j < n_test else "valid" if j < n_test + n_valid else "train"
    return assignment


def keep_groups_together(assignment: list[str], group_ids) -> tuple[list[str], int]:
    """Each group of rows moved into one split: the first of train, valid, test its rows are in.

    Moving towards train never puts a copy of a training image into the test split; the
    fractions shift by at most the size of the groups moved. Returns the new assignment and
    how many rows moved.
    """
    rank = {name: i for i, name in enumerate(SPLITS)}
    target: dict = {}
    for split, group in zip(assignment, group_ids, strict=True):
        target[group] = min(target.get(group, split), split, key=rank.__getitem__)
    moved = [target[group] for group in group_ids]
    return moved, sum(a != b for a, b in zip(assignment, moved, strict=True))


def write_splits(path: Path, rows: list[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows((r.path, r.label, r.split, r.sha256, r.split_from) for r in rows)


def read_splits(path: Path) -> list[Row]:
    if not path.is_file():
        raise DataError(f"{path} not found: run the prepare stage first (dvc repro prepare)")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise DataError(f"{path}: expected columns {list(COLUMNS)}, got {reader.fieldnames}")
        return [Row(**record) for record in reader]
