"""Classification metrics from predicted probabilities: accuracy to calibration, per class too."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
    top_k_accuracy_score,
)


def reliability_bins(y_true: np.ndarray, proba: np.ndarray, bins: int = 15) -> list[dict]:
    """Equal-width confidence bins: edges, rows, accuracy and mean confidence (empty bins kept)."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    table = []
    for b in range(bins):
        members = which == b
        table.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "n": int(members.sum()),
                "accuracy": float(correct[members].mean()) if members.any() else None,
                "confidence": float(confidence[members].mean()) if members.any() else None,
            }
        )
    return table


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    table = reliability_bins(y_true, proba, bins)
    n = sum(b["n"] for b in table)
    return float(sum(b["n"] / n * abs(b["accuracy"] - b["confidence"]) for b in table if b["n"]))


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, classes: list[str], top_k: int = 5, bins: int = 15
) -> dict:
    """All metrics for one split; `y_true` holds indices into `classes` (= proba columns)."""
    labels = np.arange(len(classes))
    y_pred = proba.argmax(axis=1)
    present = np.unique(y_true)
    result = {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        # Over the classes the split holds: a class with no test rows has no F1 to average.
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        f"top{top_k}_accuracy": float(
            top_k_accuracy_score(y_true, proba, k=min(top_k, len(classes)), labels=labels)
        ),
        "log_loss": float(log_loss(y_true, np.clip(proba, 1e-15, 1.0), labels=labels)),
        "ece": expected_calibration_error(y_true, proba, bins),
        "reliability": reliability_bins(y_true, proba, bins),
    }
    # One-vs-rest AUC is undefined for a class absent from the split; average over the others.
    aucs = [roc_auc_score(y_true == c, proba[:, c]) for c in present if 0 < (y_true == c).sum() < len(y_true)]
    result["macro_auc_ovr"] = float(np.mean(aucs)) if aucs else float("nan")
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    result["per_class"] = {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }
    return result
