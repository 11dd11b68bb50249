"""Stage `evaluate@<head>`: predictions with every class probability, and metrics per split."""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from ..config import DataParams, EvaluateParams
from ..embeddings import load_embeddings
from ..exceptions import PipelineError
from ..heads import head_class
from ..metrics import classification_metrics
from ..params import read_block
from ..predictions import write_predictions
from ..splits import SPLITS


def run(
    name: str,
    params: EvaluateParams,
    head_dir: Path,
    embeddings_path: Path,
    data_root: str,
    metrics_path: Path,
    predictions_path: Path,
    confusion_path: Path,
) -> dict:
    emb = load_embeddings(embeddings_path)
    head = head_class(name).load(head_dir)
    X = emb.inputs(head.input_kind, data_root)
    start = time.perf_counter()
    head_proba = head.predict_proba(X)
    predict_seconds = time.perf_counter() - start
    # Columns in the embeddings' class order, whatever order the head learnt them in.
    proba = np.zeros((len(X), len(emb.classes)))
    columns = [emb.classes.index(str(c)) for c in head.classes_]
    proba[:, columns] = head_proba
    drift = np.abs(proba.sum(axis=1) - 1).max()
    if drift > 1e-3:
        raise PipelineError(f"{name}: probabilities do not sum to 1 (off by up to {drift:.2g})")
    proba /= proba.sum(axis=1, keepdims=True)  # float32 heads drift by ~1e-7; metrics want exact

    fit = json.loads((head_dir / "fit.json").read_text())
    metrics = {
        "head": name,
        **{
            split: classification_metrics(
                emb.labels[emb.split == split],
                proba[emb.split == split],
                emb.classes,
                params.top_k,
                params.ece_bins,
            )
            for split in SPLITS
            if (emb.split == split).any()
        },
        "fit_seconds": fit["fit_seconds"],
        "predict_ms_per_image": 1000 * predict_seconds / len(X),
        "model_bytes": sum(f.stat().st_size for f in head_dir.iterdir() if f.is_file()),
    }
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2))
    write_predictions(predictions_path, emb, proba)
    _write_confusion(confusion_path, emb, proba)
    test = metrics.get("test", {})
    print(
        f"evaluate {name}: test accuracy {test.get('accuracy', float('nan')):.4f}, "
        f"macro F1 {test.get('macro_f1', float('nan')):.4f} -> {metrics_path}"
    )
    return metrics


def _write_confusion(path: Path, emb, proba: np.ndarray) -> None:
    """Test rows only, as `dvc plots show` renders a confusion matrix from them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    test = np.flatnonzero(emb.split == "test")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["true", "predicted"])
        for i in test:
            writer.writerow([emb.classes[emb.labels[i]], emb.classes[proba[i].argmax()]])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline evaluate", description=__doc__)
    parser.add_argument("head")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--head-dir", type=Path, required=True)
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--predictions", type=Path, required=True)
    parser.add_argument("--confusion", type=Path, required=True)
    args = parser.parse_args(argv)
    params = read_block("evaluate", EvaluateParams, args.params)
    root = read_block("data", DataParams, args.params).root
    run(
        args.head,
        params,
        args.head_dir,
        args.embeddings,
        root,
        args.metrics,
        args.predictions,
        args.confusion,
    )
