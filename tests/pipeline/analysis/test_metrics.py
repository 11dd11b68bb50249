"""Metrics from probabilities: hand-computed calibration error and the full set per split."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.analysis.metrics import classification_metrics, expected_calibration_error


def test_ece_hand_computed():
    # Two bins (0.5-0.75, 0.75-1): confidences 0.6, 0.6 (one right) and 0.9, 0.9 (both right).
    proba = np.array([[0.6, 0.4], [0.6, 0.4], [0.9, 0.1], [0.1, 0.9]])
    y_true = np.array([0, 1, 0, 1])
    # bin 1: |0.5 - 0.6| = 0.1, weight 1/2; bin 2: |1.0 - 0.9| = 0.1, weight 1/2 -> 0.1
    assert expected_calibration_error(y_true, proba, bins=4) == pytest.approx(0.1)


def test_perfect_predictions():
    y = np.array([0, 1, 2, 2])
    proba = np.eye(3)[y]
    m = classification_metrics(y, proba, ["a", "b", "c"], top_k=2)
    assert m["accuracy"] == m["balanced_accuracy"] == m["macro_f1"] == m["top2_accuracy"] == 1.0
    assert m["ece"] == pytest.approx(0.0) and m["macro_auc_ovr"] == 1.0
    assert m["per_class"]["c"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}


def test_top_k_counts_the_second_guess():
    proba = np.array([[0.5, 0.3, 0.2], [0.5, 0.4, 0.1]])
    m = classification_metrics(np.array([1, 1]), proba, ["a", "b", "c"], top_k=2)
    assert m["accuracy"] == 0.0 and m["top2_accuracy"] == 1.0
    assert m["log_loss"] == pytest.approx(-(np.log(0.3) + np.log(0.4)) / 2)
