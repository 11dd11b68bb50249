"""Where each head errs, where heads disagree, and which labels look wrong: typed results."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .label_issues import find_label_issues, out_of_fold_proba
from .results import Result


@dataclass
class ConfusedPair(Result):
    true: str
    predicted: str
    count: int


@dataclass
class HeadConfusion(Result):
    test_accuracy: float
    per_class_accuracy: dict[str, float]
    most_confused: list[ConfusedPair]


@dataclass
class Disagreement(Result):
    images: int  # test images on which the heads do not all agree
    all_wrong: int  # test images every head gets wrong
    fixes: dict[str, list[dict]]  # "a fixes b" -> confusions b makes on images a gets right


@dataclass
class LabelIssue(Result):
    path: str
    label: str
    suggested: str
    label_probability: float


@dataclass
class ConfusionResult(Result):
    heads: dict[str, HeadConfusion]
    disagreement: Disagreement
    label_issues: list[LabelIssue]


def confusion_counts(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(true, predicted) counts; rows are the true classes."""
    counts = np.zeros((n_classes, n_classes))
    np.add.at(counts, (true, pred), 1)
    return counts


def row_normalised(counts: np.ndarray) -> np.ndarray:
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)


def errors(counts: np.ndarray) -> np.ndarray:
    """The confusion counts off the diagonal: (true, predicted) pairs that are wrong."""
    off = counts.copy()
    np.fill_diagonal(off, 0)
    return off


def head_confusion(counts: np.ndarray, classes: list[str], top_pairs: int) -> HeadConfusion:
    """Accuracy, per-class accuracy and the most confused pairs from `confusion_counts`."""
    matrix = row_normalised(counts)
    off = errors(counts)
    order = zip(*np.unravel_index(np.argsort(off, axis=None)[::-1], off.shape), strict=True)
    pairs = [ConfusedPair(classes[i], classes[j], int(off[i, j])) for i, j in order if off[i, j] > 0]
    return HeadConfusion(
        test_accuracy=float(np.trace(counts) / counts.sum()),
        per_class_accuracy={c: float(matrix[i, i]) for i, c in enumerate(classes)},
        most_confused=pairs[:top_pairs],
    )


def misclassified(true: np.ndarray, pred: np.ndarray, confidence: np.ndarray, limit: int) -> np.ndarray:
    """Wrong test rows, most confident first."""
    wrong = np.flatnonzero(pred != true)
    return wrong[np.argsort(-confidence[wrong])][:limit]


def most_confused_classes(counts: np.ndarray, limit: int) -> np.ndarray:
    """`limit` classes: both classes of each most frequent (true, predicted) error in turn, so
    every pair shown is a cell inside the matrix; then, if errors run out, the classes with the
    most errors either way. All of them, in class order, when there are no more.

    Picking classes by their own error totals instead left the matrix nearly empty at 1000
    classes of 2 test rows: each class's errors went to classes outside the ones shown.
    """
    n = len(counts)
    if n <= limit:
        return np.arange(n)
    off = errors(counts)
    chosen: dict[int, None] = {}  # insertion-ordered: a pair's classes stay side by side
    for cell in np.argsort(-off, axis=None, kind="stable"):
        true, predicted = divmod(int(cell), n)
        if off[true, predicted] == 0 or len(chosen) >= limit:
            break
        chosen.update(dict.fromkeys((true, predicted)))
    by_errors = np.argsort(-(off.sum(axis=0) + off.sum(axis=1)), kind="stable")
    chosen.update(dict.fromkeys(by_errors.tolist()))  # fills up to the limit, if pairs ran out
    return np.array(list(chosen)[:limit])


def most_confident(pred: np.ndarray, confidence: np.ndarray, classes, per_class: int) -> list[int]:
    """The `per_class` most confident rows of each of `classes` (indices) as predicted, class by class."""
    rows = []
    for c in classes:
        members = np.flatnonzero(pred == c)
        rows += members[np.argsort(-confidence[members])][:per_class].tolist()
    return rows


def disputed(predicted: dict[str, np.ndarray], limit: int) -> np.ndarray:
    """Rows the heads disagree on, those with the most distinct answers first."""
    distinct = _distinct_answers(predicted)
    rows = np.flatnonzero(distinct > 1)
    return rows[np.argsort(-distinct[rows], kind="stable")][:limit]


def disagreement(predicted: dict[str, np.ndarray], true: np.ndarray, classes: list[str]) -> Disagreement:
    heads = list(predicted)
    stacked = np.stack([predicted[h] for h in heads])
    fixes = {}
    for a, b in itertools.permutations(heads, 2):
        # Confusions b makes on images a gets right: what switching from b to a would fix.
        mask = (predicted[a] == true) & (predicted[b] != true)
        made = Counter((classes[true[i]], classes[predicted[b][i]]) for i in np.flatnonzero(mask))
        fixes[f"{a} fixes {b}"] = [
            {"true": t, "predicted_by_" + b: p, "count": n} for (t, p), n in made.most_common(5)
        ]
    return Disagreement(
        images=int((_distinct_answers(predicted) > 1).sum()),
        all_wrong=int((stacked != true).all(axis=0).sum()),
        fixes=fixes,
    )


def label_issues(
    vectors: np.ndarray, labels: np.ndarray, paths, classes: list[str], folds: int, seed: int, limit: int
) -> list[LabelIssue]:
    """Confident learning on out-of-fold probabilities of a linear model, most suspect first."""
    proba = out_of_fold_proba(vectors, labels, folds, seed)
    return [
        LabelIssue(
            path=str(paths[i]),
            label=classes[labels[i]],
            suggested=classes[int(proba[i].argmax())],
            label_probability=float(proba[i, labels[i]]),
        )
        for i in find_label_issues(labels, proba)[:limit]
    ]


def _distinct_answers(predicted: dict[str, np.ndarray]) -> np.ndarray:
    stacked = np.stack(list(predicted.values()))
    return np.array([len(set(column)) for column in stacked.T])
