"""Confusion figures stay bounded and legible with many classes."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pipeline.analysis.confusion import confusion_counts, head_confusion, most_confused_classes
from pipeline.figures.confusion import plot_head


def test_many_classes_keep_the_most_confused_in_bounded_figures(tmp_path):
    n_classes, rows = 120, 1200
    rng = np.random.default_rng(0)
    true = rng.integers(0, n_classes, rows)
    pred = np.where(rng.random(rows) < 0.6, true, rng.integers(0, n_classes, rows))
    confidence = rng.random(rows)
    classes = [f"class_{i:03d}" for i in range(n_classes)]
    counts = confusion_counts(true, pred, n_classes)
    tile = Image.new("RGB", (160, 120), "grey")
    plot_head("mlp", head_confusion(counts, classes, 10), counts, true, pred, confidence, classes,
              [f"{i}.jpg" for i in range(rows)], lambda _: tile, 24, 5, 30, tmp_path)  # fmt: skip
    sizes = {p.stem: Image.open(p).size for p in tmp_path.glob("*.png")}
    assert max(sizes["mlp_matrix"]) < 2000  # 30 classes, not 120
    assert sizes["mlp_confident"][1] <= 30 * 235 + 50  # a row per shown class
    assert sizes["mlp_per_class"][1] < 1200


def test_the_most_confused_classes_are_those_of_the_most_frequent_errors():
    counts = np.diag([10, 10, 10, 10])
    counts[0, 3] = 5  # class 0 mistaken for 3
    counts[2, 3] = 1
    assert most_confused_classes(counts, 2).tolist() == [0, 3]
    assert most_confused_classes(counts, 3).tolist() == [0, 3, 2]
    assert most_confused_classes(counts, 4).tolist() == [0, 1, 2, 3]  # all: in class order


def test_with_a_thousand_classes_of_two_rows_the_shown_errors_fall_inside_the_matrix():
    rng = np.random.default_rng(0)
    true = np.repeat(np.arange(1000), 2)
    pred = np.where(rng.random(2000) < 0.5, true, rng.integers(0, 1000, 2000))
    counts = confusion_counts(true, pred, 1000)
    focus = most_confused_classes(counts, 30)
    shown = counts[np.ix_(focus, focus)]
    np.fill_diagonal(shown, 0)
    assert len(focus) == 30 and np.count_nonzero(shown) >= 15  # a cell for each pair chosen
