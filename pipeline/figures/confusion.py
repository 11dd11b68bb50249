"""Confusion figures: matrices, per-class accuracy, and galleries of the test images behind them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis.confusion import (
    HeadConfusion,
    LabelIssue,
    disputed,
    misclassified,
    most_confident,
    most_confused_classes,
    row_normalised,
)
from .plots import Thumbnails, plot_bars, plot_confusion, plot_gallery


def plot_head(
    head: str,
    result: HeadConfusion,
    counts: np.ndarray,
    true: np.ndarray,
    pred: np.ndarray,
    confidence: np.ndarray,
    classes: list[str],
    paths: list[str],
    thumb: Thumbnails,
    gallery: int,
    per_class: int,
    shown: int,
    reports: Path,
) -> None:
    """The matrix, per-class accuracy and galleries; beyond `shown` classes, the matrix and the
    per-class gallery keep the `shown` most confused classes, the bars the `shown` weakest (every
    class is in metrics/confusion.json)."""
    n = len(classes)
    focus = most_confused_classes(counts, shown)
    matrix = row_normalised(counts)[np.ix_(focus, focus)]
    title = f"{head}: test confusion (row-normalised)"
    if len(focus) < n:
        title = f"{head}: test confusion, the {len(focus)} most confused of {n} classes (rows over all {n})"
    plot_confusion(matrix, [classes[i] for i in focus], reports / f"{head}_matrix.png", title)
    weakest = dict(sorted(result.per_class_accuracy.items(), key=lambda kv: kv[1])[:shown])
    plot_bars(
        weakest,
        reports / f"{head}_per_class.png",
        f"{head}: test accuracy per class" + ("" if len(weakest) == n else f", the {shown} lowest of {n}"),
        "accuracy",
    )
    wrong = misclassified(true, pred, confidence, gallery)
    plot_gallery(
        [thumb(paths[i]) for i in wrong],
        [f"{classes[true[i]]}\n→ {classes[pred[i]]} ({confidence[i]:.2f})" for i in wrong],
        reports / f"{head}_misclassified.png",
        f"{head}: misclassified test images, most confident first (true → predicted)",
        colors=["tab:red"] * len(wrong),
    )
    rows = most_confident(pred, confidence, focus, per_class)
    which = (
        "predicted class"
        if len(focus) == n
        else f"predicted class, for the {len(focus)} most confused classes"
    )
    plot_gallery(
        [thumb(paths[i]) for i in rows],
        [
            f"{classes[pred[i]]} ({confidence[i]:.2f})"
            + ("" if true[i] == pred[i] else f"\ntrue: {classes[true[i]]}")
            for i in rows
        ],
        reports / f"{head}_confident.png",
        f"{head}: the {per_class} most confident test images per {which}",
        cols=per_class,
        colors=["black" if true[i] == pred[i] else "tab:red" for i in rows],
    )


def plot_disagreements(
    predicted: dict[str, np.ndarray],
    true: np.ndarray,
    classes: list[str],
    paths: list[str],
    thumb: Thumbnails,
    gallery: int,
    reports: Path,
) -> None:
    heads = list(predicted)
    rows = disputed(predicted, gallery)
    plot_gallery(
        [thumb(paths[i]) for i in rows],
        [
            f"true {classes[true[i]]}\n"
            + ", ".join(f"{h}:{classes[predicted[h][i]]}"[:18] for h in heads[:3])
            for i in rows
        ],
        reports / "disagreements.png",
        "Test images on which the heads disagree (first three heads shown)",
    )


def plot_label_issues(issues: list[LabelIssue], thumb: Thumbnails, reports: Path) -> None:
    plot_gallery(
        [thumb(issue.path) for issue in issues],
        [f"labelled {i.label}\nlooks like {i.suggested} ({i.label_probability:.2f})" for i in issues],
        reports / "label_issues.png",
        "Likely label issues (confident learning on out-of-fold probabilities), most suspect first",
    )
