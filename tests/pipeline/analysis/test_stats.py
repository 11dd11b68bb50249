"""Paired bootstrap and exact McNemar against cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from pipeline.analysis.metrics import classification_metrics
from pipeline.analysis.stats import (
    Resamples,
    bootstrap_difference,
    bootstrap_indices,
    bootstrap_interval,
    holm,
    mcnemar_exact,
    resampled_macro_f1,
)


def test_mcnemar_hand_computed():
    # b = 5 rows only A gets right, c = 1 row only B gets right, 4 rows both right.
    a = np.array([1, 1, 1, 1, 1, 0, 1, 1, 1, 1], bool)
    b = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], bool)
    result = mcnemar_exact(a, b)
    assert (result["a_only"], result["b_only"]) == (5, 1)
    # Two-sided exact: 2 * P(X <= 1 | n=6, p=1/2) = 2 * (1 + 6) / 64 = 0.21875
    assert result["p_value"] == pytest.approx(0.21875)


def test_mcnemar_without_discordant_pairs_is_one():
    same = np.array([1, 0, 1], bool)
    assert mcnemar_exact(same, same)["p_value"] == 1.0


def test_mcnemar_all_discordant_one_way():
    # b = 10, c = 0: p = 2 * 0.5**10
    a, b = np.ones(10, bool), np.zeros(10, bool)
    assert mcnemar_exact(a, b)["p_value"] == pytest.approx(2 / 1024)


def test_bootstrap_indices_are_shared_and_seeded():
    first, again = bootstrap_indices(50, 200, seed=1), bootstrap_indices(50, 200, seed=1)
    np.testing.assert_array_equal(first, again)
    assert first.shape == (200, 50) and first.min() >= 0 and first.max() < 50


def test_bootstrap_interval_hand_computed():
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 1, 1, 1])  # rows 0, 2, 3 right
    # Three resamples by hand: rows (0,0,0,0) -> 1.0, (1,1,1,1) -> 0.0, (0,1,2,3) -> 0.75.
    indices = np.array([[0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 2, 3]])
    low, high = bootstrap_interval(y_true, y_pred, indices, "accuracy", level=0.5)
    # 25th and 75th percentiles of [0, 0.75, 1] with linear interpolation: 0.375 and 0.875.
    assert (low, high) == pytest.approx((0.375, 0.875))


def test_bootstrap_interval_covers_the_point_estimate():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 300)
    y_pred = np.where(rng.random(300) < 0.8, y_true, (y_true + 1) % 4)
    indices = bootstrap_indices(300, 1000, 0)
    for metric in ("accuracy", "macro_f1"):
        low, high = bootstrap_interval(y_true, y_pred, indices, metric)
        assert low < 0.8 < high and high - low < 0.2


def test_resampled_macro_f1_is_scikit_learns_on_each_resample():
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 30, 60)  # 2 rows a class: most resamples miss some classes
    y_pred = np.where(rng.random(60) < 0.7, y_true, rng.integers(0, 30, 60))
    indices = bootstrap_indices(60, 50, 0)
    expected = [
        f1_score(y_true[rows], y_pred[rows], labels=np.unique(y_true[rows]), average="macro", zero_division=0)
        for rows in indices
    ]
    assert resampled_macro_f1(y_true, y_pred, indices) == pytest.approx(expected)


def test_macro_f1_interval_covers_the_point_with_a_thousand_classes_of_two_rows():
    rng = np.random.default_rng(3)
    y_true = np.repeat(np.arange(1000), 2)
    y_pred = np.where(rng.random(2000) < 0.5, y_true, rng.integers(0, 1000, 2000))
    point = classification_metrics(y_true, np.eye(1000)[y_pred], [str(c) for c in range(1000)])["macro_f1"]
    low, high = bootstrap_interval(y_true, y_pred, Resamples(2000, 200, 0), "macro_f1")
    assert low < point < high


def test_holm_hand_computed():
    # Sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> raised to 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_keeps_a_single_test():
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([0.2]) == [0.2]


def test_bootstrap_difference_is_paired():
    # b is a copy of a with one extra error: every resample has a >= b, so the interval is >= 0,
    # which unpaired intervals over these 40 rows could never show.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 40)
    a = np.where(rng.random(40) < 0.7, y, (y + 1) % 3)
    b = a.copy()
    b[np.flatnonzero(a == y)[0]] = (y[np.flatnonzero(a == y)[0]] + 1) % 3
    low, high = bootstrap_difference(y, a, b, bootstrap_indices(40, 500, 0))
    assert low == 0 and 0 < high <= 4 / 40  # the row is drawn 0 to a few times per resample
