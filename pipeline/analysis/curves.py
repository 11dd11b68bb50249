"""Learning curves: test accuracy against labelled images per class, from the cached embeddings.

For each size k, each draw takes k train images of every class (all of a class that has
fewer); the draws are nested (a draw's 5 per class hold its 2 per class) and the same for
every head, so curves differ by the heads alone. Each head keeps the values train chose for
it on the whole split (not searched again per size), and the whole split's point is the
head train fitted, not a second fit of it. The valid split stays whole (early
stopping and glmnet's lambda see what they would in production); so does the test split.
A point's interval is the paired bootstrap over test rows of its accuracy averaged over the
draws, the same resamples for every point and head.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import norm
from sklearn.base import clone

from .forecast import Backtest, Forecast, backtest, forecast
from .results import Result
from .stats import Resamples, percentile_interval, resampled_mean

if TYPE_CHECKING:  # the report reads CurvesResult without importing the heads
    from ..artifacts.image_inputs import ImageInputs
    from ..heads.base import Head

log = logging.getLogger(__name__)


@dataclass
class CurvePoint(Result):
    per_class: int | None  # None: the whole train split
    n_train: float  # train rows, averaged over the draws
    accuracy: float  # test accuracy averaged over the draws
    ci: tuple[float, float]
    draws: list[float]  # each draw's test accuracy
    fit_seconds: float | None  # fit and test predictions, averaged over the draws; None: train's fit


@dataclass
class CurvesResult(Result):
    n_test: int
    n_classes: int
    draws: int
    resamples: int
    level: float
    heads: dict[str, list[CurvePoint]]
    notes: list[str]  # what could not be fitted, and why
    forecast: dict[str, Forecast] = field(default_factory=dict)  # the label budget, per head
    backtest: dict[str, Backtest] = field(default_factory=dict)  # how far each forecast can be trusted

    def add_label_budget(self, targets: list[float]) -> None:
        """Each head's forecast and backtest from its points (the whole split's last)."""
        for name, points in self.heads.items():
            if not points or points[-1].per_class is not None:
                continue
            x = np.array([p.per_class or p.n_train / self.n_classes for p in points])
            mean = np.array([p.accuracy for p in points])
            # each point's standard error from its interval (the level's, read as normal)
            z = float(norm.ppf(0.5 + self.level / 2))
            sigma = np.array([max((p.ci[1] - p.ci[0]) / (2 * z), 1e-4) for p in points])
            draws = [np.array([p.draws[min(d, len(p.draws) - 1)] for p in points]) for d in range(self.draws)]
            found = forecast(x, mean, sigma, draws, x[-1], targets)
            if isinstance(found, str):
                self.notes.append(f"{name}: no forecast ({found})")
                continue
            self.forecast[name] = found
            self.backtest[name] = backtest(x, mean, sigma, x[-1])


def nested_draws(labels: np.ndarray, sizes: list[int], draws: int, seed: int) -> dict[int, list[np.ndarray]]:
    """size -> one array of row indices per draw: `size` rows of each class (or all it has)."""
    out: dict[int, list[np.ndarray]] = {k: [] for k in sizes}
    for d in range(draws):
        rng = np.random.default_rng([seed, d])
        orders = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
        for k in sizes:
            out[k].append(np.sort(np.concatenate([order[:k] for order in orders])))
    return out


def learning_curves(
    heads: dict[str, Head],
    vectors: np.ndarray,
    images: ImageInputs,
    labels: np.ndarray,
    split: np.ndarray,
    sizes: list[int],
    draws: int,
    seed: int,
    resamples: int,
    level: float,
) -> CurvesResult:
    """Every head as train fitted it, at every size, each reading what it reads of every row
    (`vectors`, or `images`): each draw fits a clone of the head (train's values, unfitted),
    and the whole split's point is the head itself, so nothing is fitted twice."""
    train, valid, test = (np.flatnonzero(split == s) for s in ("train", "valid", "test"))
    per_class_max = np.unique(labels[train], return_counts=True)[1].max()
    notes = [f"{k} per class is the whole train split (no class has more than {per_class_max}): "
             "shown as 'all' only" for k in sizes if k >= per_class_max]  # fmt: skip
    sizes = sorted(k for k in sizes if k < per_class_max)
    subsets = {
        k: [train[rows] for rows in d] for k, d in nested_draws(labels[train], sizes, draws, seed).items()
    }
    drawn = Resamples(len(test), resamples, seed)  # the same for every head and size
    result: dict[str, list[CurvePoint]] = {}
    for name, fitted in heads.items():
        X = fitted.pick_inputs(vectors, images)
        eval_set = (X[valid], labels[valid]) if len(valid) else None
        whole_rows = fitted.rows_fitted(len(train))
        if whole_rows < len(train):
            notes.append(f"{name} is fitted on at most {whole_rows} train rows "
                         f"(heads.{name}.max_train_rows): its 'all' point is that many of the "
                         f"{len(train)} rows")  # fmt: skip
        points = []
        for k, rows_per_draw in subsets.items():
            correct, seconds = [], []
            for d, rows in enumerate(rows_per_draw, start=1):
                head = clone(fitted)
                start = time.perf_counter()
                try:
                    head.fit(X[rows], labels[rows], eval_set=eval_set)
                    predicted = head.predict(X[test])
                except ValueError as exc:  # a head that cannot learn from this few rows says why
                    notes.append(f"{name} at {k} per class: no point ({exc})")
                    break
                seconds.append(time.perf_counter() - start)
                correct.append(predicted == labels[test])
                log.info(
                    "curves: %s, %s per class, draw %d/%d (%d rows): accuracy %.3f, %.1fs",
                    name, k, d, len(rows_per_draw), len(rows), correct[-1].mean(), seconds[-1],
                )  # fmt: skip
            if len(correct) == len(rows_per_draw):
                n_train = float(np.mean([head.rows_fitted(len(r)) for r in rows_per_draw]))
                points.append(_point(k, n_train, correct, float(np.mean(seconds)), drawn, level))
        whole = fitted.predict(X[test]) == labels[test]
        points.append(_point(None, whole_rows, [whole], None, drawn, level))
        log.info("curves: %s, all train rows (train's fit): accuracy %.3f", name, whole.mean())
        result[name] = points
    n_classes = len(np.unique(labels))
    return CurvesResult(len(test), n_classes, draws, resamples, level, result, notes)


def _point(
    per_class: int | None, n_train: float, correct: list[np.ndarray], seconds: float | None,
    drawn: Resamples, level: float,
) -> CurvePoint:  # fmt: skip
    """One point from each draw's per-test-row correctness."""
    mean_correct = np.mean(correct, axis=0)  # per test row, over the draws
    return CurvePoint(
        per_class=per_class,
        n_train=float(n_train),
        accuracy=float(mean_correct.mean()),
        ci=percentile_interval(resampled_mean(mean_correct, drawn), level),
        draws=[float(c.mean()) for c in correct],
        fit_seconds=seconds,
    )
