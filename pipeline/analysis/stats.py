"""Paired statistics for comparing heads on the same test rows: bootstrap intervals, McNemar, Holm."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest


@dataclass(frozen=True)
class Resamples:
    """`count` bootstrap resamples of `n` rows, drawn from `seed` a block at a time.

    Walking them again draws the very same resamples, so every head is scored on the same
    ones (paired intervals) while memory holds one block, whatever `count` is. The draws are
    those of one (count, n) array from the same seed.
    """

    n: int
    count: int
    seed: int
    block_cells: int = 1 << 22  # row indices held at once: 32 MB

    def blocks(self) -> Iterator[np.ndarray]:
        """(rows, n) index blocks, `count` rows in all."""
        rng = np.random.default_rng(self.seed)
        per_block = max(1, self.block_cells // max(self.n, 1))
        for start in range(0, self.count, per_block):
            yield rng.integers(0, self.n, size=(min(per_block, self.count - start), self.n))


def bootstrap_indices(n: int, resamples: int, seed: int) -> np.ndarray:
    """All of `Resamples(n, resamples, seed)` as one (resamples, n) array (small n only)."""
    return np.concatenate(list(Resamples(n, resamples, seed).blocks()))


def _blocks(resamples: Resamples | np.ndarray) -> Iterator[np.ndarray]:
    return resamples.blocks() if isinstance(resamples, Resamples) else iter([np.asarray(resamples)])


def bootstrap_interval(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    resamples: Resamples | np.ndarray,
    metric: str,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of `metric` ('accuracy' or 'macro_f1') over the resamples (or
    explicit (resamples, n) row indices)."""
    if metric == "accuracy":
        values = resampled_mean(y_true == y_pred, resamples)
    elif metric == "macro_f1":
        values = resampled_macro_f1(y_true, y_pred, resamples)
    else:
        raise ValueError(f"metric: got {metric!r}; choose from ['accuracy', 'macro_f1']")
    return percentile_interval(values, level)


def bootstrap_difference(
    y_true: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    resamples: Resamples | np.ndarray,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of accuracy(a) - accuracy(b), both scored on each shared resample."""
    difference = (pred_a == y_true).astype(np.int8) - (pred_b == y_true).astype(np.int8)
    return percentile_interval(resampled_mean(difference, resamples), level)


def resampled_mean(values: np.ndarray, resamples: Resamples | np.ndarray) -> np.ndarray:
    """The mean of per-row `values` on each resample."""
    values = np.asarray(values, dtype=float)
    return np.concatenate([values[rows].mean(axis=1) for rows in _blocks(resamples)])


def resampled_macro_f1(
    y_true: np.ndarray, y_pred: np.ndarray, resamples: Resamples | np.ndarray
) -> np.ndarray:
    """Macro F1 over the classes present in `y_true`, on each resample, from per-class counts:
    F1 = 2 TP / (2 TP + FP + FN), and 2 TP + FP + FN is a class's true count plus its predicted
    count, so three bincounts per block give every resample's F1 at once (0 where a class is
    neither true nor predicted in a resample, as scikit-learn's zero_division=0)."""
    classes, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    true, pred = codes[: len(y_true)], codes[len(y_true) :]
    present = np.unique(true)
    k = len(classes)
    out = []
    for rows in _blocks(resamples):
        offset = (np.arange(len(rows)) * k)[:, None]
        t, p = true[rows] + offset, pred[rows] + offset
        size = len(rows) * k
        tp = np.bincount(t[t == p], minlength=size).reshape(-1, k)
        total = (np.bincount(t.ravel(), minlength=size) + np.bincount(p.ravel(), minlength=size)).reshape(
            -1, k
        )
        f1 = np.divide(2.0 * tp, total, out=np.zeros(tp.shape), where=total > 0)
        out.append(f1[:, present].mean(axis=1))
    return np.concatenate(out)


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
