"""Validation rows for a head fitted without an eval_set: a stratified share of its train rows."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split


def hold_out(X: np.ndarray, y_index: np.ndarray, fraction: float, seed: int):
    """(X, y, X_val, y_val); X_val and y_val are None when too few rows to hold any out."""
    if not _can_hold_out(y_index, fraction):
        return X, y_index, None, None
    X, X_val, y_index, y_val = train_test_split(
        X, y_index, test_size=fraction, random_state=seed, stratify=y_index
    )
    return X, y_index, X_val, y_val


def _can_hold_out(y: np.ndarray, fraction: float) -> bool:
    """A stratified holdout needs a row of every class on both sides."""
    counts = np.bincount(y)
    n_classes = int((counts > 0).sum())
    held = int(np.ceil(fraction * len(y)))
    return fraction > 0 and counts[counts > 0].min() >= 2 and n_classes <= held <= len(y) - n_classes
