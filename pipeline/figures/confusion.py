"""Confusion figures: matrices, per-class accuracy, and galleries of the test images behind them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis.confusion import HeadConfusion, LabelIssue, disputed, misclassified, most_confident
from .plots import Thumbnails, plot_bars, plot_confusion, plot_gallery


def plot_head(
    head: str,
    result: HeadConfusion,
    matrix: np.ndarray,
    true: np.ndarray,
    pred: np.ndarray,
    confidence: np.ndarray,
    classes: list[str],
    paths: list[str],
    thumb: Thumbnails,
    gallery: int,
    per_class: int,
    reports: Path,
) -> None:
    plot_confusion(
        matrix, classes, reports / f"{head}_matrix.png", f"{head}: test confusion (row-normalised)"
    )
    plot_bars(
        result.per_class_accuracy,
        reports / f"{head}_per_class.png",
        f"{head}: test accuracy per class",
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
    rows = most_confident(pred, confidence, len(classes), per_class)
    plot_gallery(
        [thumb(paths[i]) for i in rows],
        [
            f"{classes[pred[i]]} ({confidence[i]:.2f})"
            + ("" if true[i] == pred[i] else f"\ntrue: {classes[true[i]]}")
            for i in rows
        ],
        reports / f"{head}_confident.png",
        f"{head}: the {per_class} most confident test images per predicted class",
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
