"""The one rule every head's choices follow: best validation accuracy, ties to lower log loss."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RULE = (
    "each candidate is fitted on the train split and scored on the valid split; the highest "
    "validation accuracy wins, ties going to the lower validation log loss, then to the first listed"
)


@dataclass(frozen=True)
class ValidationScore:
    accuracy: float
    log_loss: float

    def key(self) -> tuple[float, float]:
        """Larger is better."""
        return (self.accuracy, -self.log_loss)


def score(proba: np.ndarray, y_index: np.ndarray) -> ValidationScore:
    """Accuracy and mean log loss of class probabilities (columns in class order) on labelled rows."""
    rows = np.arange(len(y_index))
    # Clipped as evaluate clips (pipeline/metrics.py), so a zero probability (k-NN) costs a lot, not infinity.
    p = np.clip(proba[rows, y_index], 1e-15, 1.0)
    return ValidationScore(float((proba.argmax(axis=1) == y_index).mean()), float(-np.log(p).mean()))


def best(scores: list[ValidationScore]) -> int:
    """Index of the winner; the first of equals, so candidates listed first win ties."""
    return max(range(len(scores)), key=lambda i: (scores[i].key(), -i))


def ranked(scores: list[ValidationScore]) -> list[int]:
    """Indices from best to worst by the rule, equals in the order listed."""
    return sorted(range(len(scores)), key=lambda i: (scores[i].key(), -i), reverse=True)
