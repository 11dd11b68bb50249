"""Likely label issues from out-of-fold probabilities, by confident learning.

The method of Northcutt, Jiang & Chuang (2021), exactly as cleanlab 2.x implements
`find_label_issues(filter_by="confident_learning")`: a class's threshold is the mean
probability the model gives that class on the images labelled with it; an image's guessed
class is the one clearing its threshold (the argmax of all classes when several clear
theirs); an image is suspect when that guess is not its label, unless the model's most
probable class is already the label. Suspects are ranked by self-confidence, the
out-of-fold probability of the given label, lowest first.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# cleanlab's tolerances (cleanlab/internal/constants.py), kept so the flags match it exactly.
_TOLERANCE = 1e-6
_ABSENT_CLASS_THRESHOLD = 2.0  # no probability reaches it: nothing is guessed as a class nobody has


# Folds fitted at once, each in its own process with its share of the BLAS threads: on 2 cores,
# 3x faster than one fit after another (lbfgs's own steps and the softmax run on one core), with
# the same probabilities. Two, not one per fold: each holds its fold as float64 (1 GB at 64,000
# rows of 2048-d), so memory stays bounded on a machine with many cores.
PARALLEL_FOLDS = 2


def out_of_fold_proba(X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each row's probabilities from an L2 logistic regression that never saw it."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return cross_val_predict(model, X, y, cv=cv, method="predict_proba", n_jobs=PARALLEL_FOLDS)


def confident_thresholds(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per class, the mean probability of that class over the rows labelled with it."""
    thresholds = [
        proba[labels == k, k].mean() if (labels == k).any() else _ABSENT_CLASS_THRESHOLD
        for k in range(proba.shape[1])
    ]
    return np.clip(thresholds, 2 * _TOLERANCE, None)


def find_label_issues(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Indices of suspect rows, most suspect first. `labels` index the columns of `proba`."""
    labels = np.asarray(labels)
    rows = np.arange(len(labels))
    confident = proba >= confident_thresholds(labels, proba) - _TOLERANCE
    n_confident = confident.sum(axis=1)
    guess = np.where(n_confident > 1, proba.argmax(axis=1), confident.argmax(axis=1))
    suspect = (n_confident > 0) & (guess != labels)
    # A row the model already predicts as labelled (its label within tolerance of the top) is
    # no issue, whatever the thresholds say.
    boosted = proba.copy()
    boosted[rows, labels] += _TOLERANCE
    suspect &= boosted.argmax(axis=1) != labels
    flagged = rows[suspect]
    return flagged[np.argsort(proba[flagged, labels[flagged]], kind="stable")]
