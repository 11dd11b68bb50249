"""Paired statistics for comparing heads on the same test rows: bootstrap intervals, McNemar, Holm."""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import f1_score


def bootstrap_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) row indices, drawn once and shared by every head: paired intervals."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap_interval(
    y_true: np.ndarray, y_pred: np.ndarray, indices: np.ndarray, metric: str, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of `metric` ('accuracy' or 'macro_f1') over the resamples."""
    if metric == "accuracy":
        values = resampled_accuracy(y_true, y_pred, indices)
    elif metric == "macro_f1":
        labels = np.unique(y_true)
        values = np.array(
            [f1_score(y_true[i], y_pred[i], labels=labels, average="macro", zero_division=0) for i in indices]
        )
    else:
        raise ValueError(f"metric: got {metric!r}; choose from ['accuracy', 'macro_f1']")
    return percentile_interval(values, level)


def bootstrap_difference(
    y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, indices: np.ndarray, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of accuracy(a) - accuracy(b), both scored on each shared resample."""
    difference = resampled_accuracy(y_true, pred_a, indices) - resampled_accuracy(y_true, pred_b, indices)
    return percentile_interval(difference, level)


def resampled_accuracy(y_true: np.ndarray, y_pred: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Accuracy on each resample (a row of `indices`)."""
    return (y_true[indices] == y_pred[indices]).mean(axis=1)


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: family-wise error controlled across all the tests given.

    The i-th smallest p-value (from 0) is multiplied by (m - i), made no smaller than the
    adjusted one before it, and capped at 1. Returned in the order given.
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Exact McNemar test: a two-sided binomial test on the discordant pairs.

    `b` counts rows head A gets right and head B wrong, `c` the reverse. Under the null
    that both heads err alike, b ~ Binomial(b + c, 1/2).
    """
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    b = int((correct_a & ~correct_b).sum())
    c = int((~correct_a & correct_b).sum())
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
    return {"a_only": b, "b_only": c, "p_value": p}
