"""Likely label issues from out-of-fold probabilities, by confident learning.

The method of Northcutt, Jiang & Chuang (2021), as cleanlab implements it: a class's
threshold is the mean probability the model gives that class on the images labelled with
it; an image is suspect when the most probable class among those above their thresholds
is not its label. Suspects are ranked by self-confidence, the out-of-fold probability of
the given label, lowest first.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def out_of_fold_proba(X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each row's probabilities from an L2 logistic regression that never saw it."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return cross_val_predict(model, X, y, cv=cv, method="predict_proba")


def find_label_issues(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Indices of suspect rows, most suspect first. `labels` index the columns of `proba`."""
    n_classes = proba.shape[1]
    thresholds = np.array(
        [proba[labels == j, j].mean() if (labels == j).any() else 1.0 for j in range(n_classes)]
    )
    above = proba >= thresholds
    masked = np.where(above, proba, -1.0)
    confident = masked.argmax(axis=1)
    suspect = above.any(axis=1) & (confident != labels)
    self_confidence = proba[np.arange(len(labels)), labels]
    rows = np.flatnonzero(suspect)
    return rows[np.argsort(self_confidence[rows], kind="stable")]
