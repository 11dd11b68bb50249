"""Stratified, seeded splits and the splits.csv round trip."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.data.params import SplitParams
from pipeline.data.splits import Row, read_splits, stratified_split, write_splits
from pipeline.exceptions import DataError

LABELS = ["a"] * 50 + ["b"] * 20 + ["c"] * 10


def test_each_class_is_split_in_the_fractions():
    split = stratified_split(LABELS, SplitParams(), seed=0)
    per_class = Counter(zip(LABELS, split, strict=True))
    assert [per_class["a", s] for s in ("train", "valid", "test")] == [30, 10, 10]
    assert [per_class["b", s] for s in ("train", "valid", "test")] == [12, 4, 4]
    assert [per_class["c", s] for s in ("train", "valid", "test")] == [6, 2, 2]


def test_same_seed_same_split_other_seed_other_split():
    assert stratified_split(LABELS, SplitParams(), 3) == stratified_split(LABELS, SplitParams(), 3)
    assert stratified_split(LABELS, SplitParams(), 3) != stratified_split(LABELS, SplitParams(), 4)


def test_tiny_classes_keep_one_item_per_split():
    split = stratified_split(["x", "x", "x"], SplitParams(), 0)
    assert sorted(split) == ["test", "train", "valid"]
    with pytest.raises(DataError, match="class 'y' has 2 image"):
        stratified_split(["y", "y"], SplitParams(), 0)
    assert sorted(stratified_split(["y", "y"], SplitParams(0.5, 0.0, 0.5), 0)) == ["test", "train"]


def test_csv_round_trip_with_unicode_and_commas(tmp_path):
    rows = [Row("red fish ü/a, b.png", "red fish ü", "train", "0" * 64)]
    write_splits(tmp_path / "s.csv", rows)
    assert read_splits(tmp_path / "s.csv") == rows
