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
        return percentile_interval(resampled_mean(y_true == y_pred, resamples), level)
    if metric == "macro_f1":
        # Macro F1 is biased on resamples (duplicated rows, few rows a class): at 1000 classes of
        # 2 test rows, 98% of them fall below the split's own score, so the plain percentile
        # interval leaves it out (and the bias is too large for Efron's bias-corrected one).
        point = resampled_macro_f1(y_true, y_pred, np.arange(len(y_true))[None])[0]
        return recentred_interval(resampled_macro_f1(y_true, y_pred, resamples), point, level)
    raise ValueError(f"metric: got {metric!r}; choose from ['accuracy', 'macro_f1']")


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
    """Macro F1 on each resample, as `classification_metrics` scores a split: the mean over the
    classes the resample's truth holds. Counting a class the resample happens to miss as 0 would
    drag every resample below the point estimate (at 2 test rows a class, 1 class in 7 is missed).

    From per-class counts: F1 = 2 TP / (2 TP + FP + FN), and 2 TP + FP + FN is a class's true
    count plus its predicted count, so three bincounts per block give every resample's F1 at once.
    """
    classes, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    true, pred = codes[: len(y_true)], codes[len(y_true) :]
    k = len(classes)
    out = []
    for rows in _blocks(resamples):
        offset = (np.arange(len(rows)) * k)[:, None]
        t, p = true[rows] + offset, pred[rows] + offset
        size = len(rows) * k
        tp = np.bincount(t[t == p], minlength=size).reshape(-1, k)
        true_count = np.bincount(t.ravel(), minlength=size).reshape(-1, k)
        total = true_count + np.bincount(p.ravel(), minlength=size).reshape(-1, k)
        f1 = np.divide(2.0 * tp, total, out=np.zeros(tp.shape), where=total > 0)
        held = true_count > 0
        out.append((f1 * held).sum(axis=1) / held.sum(axis=1))
    return np.concatenate(out)


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def recentred_interval(values: np.ndarray, point: float, level: float) -> tuple[float, float]:
    """The resamples' percentile spread moved so that their median sits on the point estimate:
    a statistic biased on resamples keeps its spread, not its bias (with no bias, the plain one)."""
    shift = float(point) - float(np.median(values))
    low, high = percentile_interval(values, level)
    return low + shift, high + shift


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
