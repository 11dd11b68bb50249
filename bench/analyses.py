"""Benchmark: the post-embed work that grew with rows x candidates, before and after, one run.

    python bench/analyses.py [--sizes 10000 40000 100000] [--classes 100] [--dim 512]

Synthetic task vectors (class-centred Gaussians, 60/20/20 splits) at each size, then, each
timed in this process, the way it was done before and the way it is done now:
- compare's bootstrap intervals (2,000 resamples, accuracy and macro F1 per head): one
  scikit-learn `f1_score` per resample over a (resamples, n) index array, against
  `Resamples` (index blocks, macro F1 from three bincounts a block);
- the k-NN search (the default 10 candidates): every candidate fitted and scored alone,
  against one neighbour search shared by all;
- leakage's near-duplicate pairs on 128-d whitened vectors: scikit-learn's ball tree
  (above 20,000 images before), against the blocked float32 scan. The ball tree is run up
  to --tree-max images only: it is the cost being removed.
Prints seconds per step and size, the ratio old/new, and the new cost per row from the
smallest size to the largest (1.0x: linear in rows).
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
from sklearn.metrics import f1_score
from sklearn.neighbors import NearestNeighbors

from pipeline.analysis.near_duplicates import similar_pairs
from pipeline.analysis.stats import Resamples, bootstrap_interval, percentile_interval
from pipeline.heads import selection
from pipeline.heads.registry import make_head
from pipeline.heads.search import _one_at_a_time, grid, search

KNN_SPACE = {"n_neighbors": (10, 1, 5, 20, 40), "weights": ("distance", "uniform")}


def task(rows: int, classes: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)).astype(np.float32)
    labels = rng.integers(0, classes, rows)
    X = centres[labels] + 2.5 * rng.normal(size=(rows, dim)).astype(np.float32)
    cut = [int(rows * 0.6), int(rows * 0.8)]
    return np.split(X, cut), np.split(labels, cut)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def intervals_before(y, pred, resamples: int) -> None:
    indices = np.random.default_rng(0).integers(0, len(y), size=(resamples, len(y)))
    labels = np.unique(y)
    percentile_interval((y[indices] == pred[indices]).mean(axis=1), 0.95)
    percentile_interval(np.array([f1_score(y[i], pred[i], labels=labels, average="macro", zero_division=0)
                                  for i in indices]), 0.95)  # fmt: skip


def intervals_after(y, pred, resamples: int) -> None:
    drawn = Resamples(len(y), resamples, 0)
    bootstrap_interval(y, pred, drawn, "accuracy")
    bootstrap_interval(y, pred, drawn, "macro_f1")


def knn_before(X, y, X_val, y_val) -> None:
    scores = [
        selection.score(proba, y_val)
        for _, proba, _, _ in _one_at_a_time(make_head("knn"), grid(KNN_SPACE), X, y, (X_val, y_val))
    ]
    selection.best(scores)


def knn_after(X, y, X_val, y_val) -> None:
    search(make_head("knn"), KNN_SPACE, X, y, (X_val, y_val))


def whitened_like(rows: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    unit = rng.normal(size=(rows, 128))
    unit[: rows // 100] = unit[rows // 2 : rows // 2 + rows // 100] + 0.2 * rng.normal(
        size=(rows // 100, 128)
    )
    return unit / np.linalg.norm(unit, axis=1, keepdims=True)


def pairs_before(unit: np.ndarray, threshold: float = 0.8) -> None:
    radius = np.sqrt(2 - 2 * threshold)
    index = NearestNeighbors(radius=radius, algorithm="ball_tree").fit(unit)
    index.radius_neighbors(unit, return_distance=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 40_000, 100_000])
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--tree-max", type=int, default=20_000)
    parser.add_argument("--knn-before-max", type=int, default=40_000)
    args = parser.parse_args()
    print(f"{args.classes} classes, {args.dim}-d vectors, {args.resamples} resamples")
    per_row: dict[str, list[float]] = {}
    for rows in args.sizes:
        for name, (before, after, n) in steps(rows, args).items():
            new = timed(after)
            old = timed(before) if before is not None else None
            per_row.setdefault(name, []).append(new / n)
            told = (
                f"{old:8.1f} s before, {old / new:6.1f}x"
                if old is not None
                else "   (before: not run at this size)"
            )
            print(f"{rows:7d} images | {name:17s} {new:8.2f} s now {told}", flush=True)
    for name, costs in per_row.items():
        growth = costs[-1] / costs[0]
        print(f"{name:17s} cost per row, {args.sizes[0]} -> {args.sizes[-1]} images: {growth:.2f}x")


def steps(rows: int, args) -> dict[str, tuple]:
    """name -> (the old way or None, the new way, the rows its cost is per)."""
    (X, X_val, X_test), (y, y_val, y_test) = task(rows, args.classes, args.dim)
    wrong = np.random.default_rng(1).random(len(y_test)) >= 0.6
    pred = np.where(wrong, (y_test + 1) % args.classes, y_test)
    unit = whitened_like(rows)
    return {
        "compare intervals": (
            partial(intervals_before, y_test, pred, args.resamples),
            partial(intervals_after, y_test, pred, args.resamples),
            len(y_test),
        ),
        "knn search": (
            None if rows > args.knn_before_max else partial(knn_before, X, y, X_val, y_val),
            partial(knn_after, X, y, X_val, y_val),
            rows,
        ),
        "leakage pairs": (
            None if rows > args.tree_max else partial(pairs_before, unit),
            partial(similar_pairs, unit, 0.8),
            rows,
        ),
    }


if __name__ == "__main__":
    main()
