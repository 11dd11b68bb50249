"""Confident learning as cleanlab computes it: hand-made cases, then cleanlab itself as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from pipeline.analysis.label_issues import find_label_issues, out_of_fold_proba

cleanlab_filter = pytest.importorskip("cleanlab.filter")


def cleanlab_issues(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    return cleanlab_filter.find_label_issues(
        labels, proba, filter_by="confident_learning", return_indices_ranked_by="self_confidence"
    )


def test_hand_made_case():
    labels = np.array([0, 0, 0, 1, 1, 1])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.65, 0.35]])
    # Thresholds: class 0 mean(0.9, 0.8, 0.1) = 0.6; class 1 mean(0.8, 0.7, 0.35) = 0.617.
    # Row 2 (label 0) clears only class 1's threshold, row 5 (label 1) only class 0's:
    # both suspect, row 2 first (p(label) 0.1 < 0.35).
    assert list(find_label_issues(labels, proba)) == [2, 5]


def test_a_row_predicted_as_its_label_is_no_issue():
    labels = np.array([0, 0, 0, 1, 1, 2])
    proba = np.array(
        [
            [0.9, 0.05, 0.05],
            [0.9, 0.05, 0.05],
            [0.35, 0.33, 0.32],
            [0.2, 0.3, 0.5],
            [0.3, 0.25, 0.45],
            [0.1, 0.1, 0.8],
        ]
    )
    # Row 2 (labelled 0) clears only class 1's threshold, mean(0.3, 0.25) = 0.275, yet its most
    # likely class is its label: not an issue. No other row clears another class's threshold.
    assert list(find_label_issues(labels, proba)) == list(cleanlab_issues(labels, proba)) == []


@pytest.mark.parametrize("seed", range(20))
def test_matches_cleanlab_on_random_probabilities(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(20, 300)), int(rng.integers(2, 12))
    labels = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])  # every class present
    proba = rng.dirichlet(np.full(k, rng.uniform(0.2, 3.0)), size=n)
    assert list(find_label_issues(labels, proba)) == list(cleanlab_issues(labels, proba))


@pytest.mark.parametrize("seed", range(5))
def test_matches_cleanlab_on_planted_flips(seed):
    X, y = make_blobs(n_samples=300, centers=4, n_features=10, cluster_std=2.0, random_state=seed)
    noisy = y.copy()
    flipped = np.random.default_rng(seed).choice(len(y), 15, replace=False)
    noisy[flipped] = (y[flipped] + 1) % 4
    proba = out_of_fold_proba(X, noisy, folds=5, seed=seed)
    found = find_label_issues(noisy, proba)
    assert list(found) == list(cleanlab_issues(noisy, proba))
    assert len(set(flipped) & set(found)) >= 9  # and it finds most of what was planted (of 15)
