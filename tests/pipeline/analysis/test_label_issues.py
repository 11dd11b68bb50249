"""Confident learning finds flipped labels among well-separated classes."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_blobs

from pipeline.analysis.label_issues import find_label_issues, out_of_fold_proba


def test_hand_made_case():
    labels = np.array([0, 0, 0, 1, 1, 1])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.65, 0.35]])
    # Thresholds: class 0 mean(0.9, 0.8, 0.1) = 0.6; class 1 mean(0.8, 0.7, 0.35) = 0.617.
    # Row 2 (label 0) clears only class 1's threshold, row 5 (label 1) only class 0's:
    # both suspect, row 2 first (p(label) 0.1 < 0.35).
    assert list(find_label_issues(labels, proba)) == [2, 5]


def test_flipped_labels_are_found_first():
    X, y = make_blobs(n_samples=300, centers=3, n_features=10, cluster_std=1.0, random_state=0)
    noisy = y.copy()
    flipped = [3, 50, 120, 200]
    noisy[flipped] = (y[flipped] + 1) % 3
    proba = out_of_fold_proba(X, noisy, folds=5, seed=0)
    found = find_label_issues(noisy, proba)
    assert set(flipped) <= set(found[:8])
