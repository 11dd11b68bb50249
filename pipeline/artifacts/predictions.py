"""artifacts/predictions/<head>.csv: written by evaluate, read back by compare and confusion."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..exceptions import DataError, PipelineError
from .embeddings import Embeddings


@dataclass
class TestPredictions:
    """One head's test rows, in the order evaluate wrote them (the embeddings' order)."""

    __test__ = False  # not a pytest class, whatever its name

    paths: list[str]
    true: np.ndarray  # class names
    predicted: np.ndarray  # class names
    confidence: np.ndarray


def aligned_proba(head: str, proba: np.ndarray, head_classes, classes: list[str]) -> np.ndarray:
    """Columns in the embeddings' class order, whatever order the head learnt them in."""
    out = np.zeros((len(proba), len(classes)))
    out[:, [classes.index(str(c)) for c in head_classes]] = proba
    drift = np.abs(out.sum(axis=1) - 1).max()
    if drift > 1e-3:
        raise PipelineError(f"{head}: probabilities do not sum to 1 (off by up to {drift:.2g})")
    return out / out.sum(axis=1, keepdims=True)  # float32 heads drift by ~1e-7; metrics want exact


def write_predictions(path: Path, emb: Embeddings, proba: np.ndarray) -> None:
    """Every image: path, split, true and predicted class, confidence, every class probability."""
    path.parent.mkdir(parents=True, exist_ok=True)
    predicted = proba.argmax(axis=1)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["path", "split", "true", "predicted", "confidence", *[f"p_{c}" for c in emb.classes]]
        )
        for i in range(len(proba)):
            writer.writerow(
                [
                    emb.paths[i],
                    emb.split[i],
                    emb.classes[emb.labels[i]],
                    emb.classes[predicted[i]],
                    f"{proba[i].max():.6f}",
                    *(f"{p:.6g}" for p in proba[i]),
                ]
            )


def write_confusion_rows(path: Path, emb: Embeddings, proba: np.ndarray) -> None:
    """Test rows only, (true, predicted), as `dvc plots show` renders a confusion matrix from them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true", "predicted"])
        for i in np.flatnonzero(emb.split == "test"):
            writer.writerow([emb.classes[emb.labels[i]], emb.classes[proba[i].argmax()]])


def read_test_predictions(path: Path) -> TestPredictions:
    if not path.is_file():
        raise DataError(f"{path} not found: run `dvc repro` so every enabled head is evaluated")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "test"]
    return TestPredictions(
        paths=[r["path"] for r in rows],
        true=np.array([r["true"] for r in rows]),
        predicted=np.array([r["predicted"] for r in rows]),
        confidence=np.array([float(r["confidence"]) for r in rows]),
    )


def read_all_heads(heads: list[str], template: str) -> dict[str, TestPredictions]:
    """Each head's test predictions, checked to cover the same rows with the same labels."""
    found = {head: read_test_predictions(Path(template.format(head=head))) for head in heads}
    first = found[heads[0]]
    for head, other in found.items():
        if other.paths != first.paths or not np.array_equal(other.true, first.true):
            raise DataError(f"{head} was evaluated on other test rows than {heads[0]}; run `dvc repro`")
    return found
