"""Stage `evaluate@<head>`: predictions with every class probability, and metrics per split."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis.metrics import classification_metrics
from ..artifacts.embeddings import load_embeddings
from ..artifacts.predictions import aligned_proba, write_confusion_rows, write_predictions
from ..data.params import DataParams
from ..data.splits import SPLITS
from ..exceptions import PipelineError
from ..heads.registry import head_class
from ..heads.reject import RejectCalibration, max_probability, nearest_similarity
from ..params import param
from .arguments import parse_stage


@dataclass(frozen=True)
class EvaluateParams:
    top_k: int = param(5, min=1)
    ece_bins: int = param(15, min=2)


@dataclass(frozen=True)
class RejectParams:
    accept: float = param(0.95, gt=0.0, max=1.0)  # share of known-class validation images accepted


def run(
    *,
    name: str,
    params: EvaluateParams,
    head_dir: Path,
    reject: RejectParams | None = None,
    embeddings_path: Path,
    data_root: str,
    metrics_path: Path,
    predictions_path: Path,
    confusion_path: Path,
) -> dict:
    emb = load_embeddings(embeddings_path)
    head = head_class(name).load(head_dir, emb.fingerprint)
    X = head.pick_inputs(emb.vectors, emb.images(data_root))
    start = time.perf_counter()
    head_proba = head.predict_proba(X)
    predict_seconds = time.perf_counter() - start
    proba = aligned_proba(name, head_proba, head.classes_, emb.classes)

    fit = json.loads((head_dir / "fit.json").read_text())
    tried = fit.get("search", {}).get("candidates", [])  # a candidate that failed is shown, not dropped
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
        "chosen": fit.get("chosen", {}),
        "candidates": len(tried),
        "failed_candidates": [f"{c['params']}: {c['error']}" for c in tried if c.get("error")],
        "train_rows": {"fitted": fit.get("train_rows_fitted", fit.get("n_train")), "of": fit.get("n_train")},
        "predict_ms_per_image": 1000 * predict_seconds / len(X),
        "model_bytes": sum(f.stat().st_size for f in head_dir.iterdir() if f.is_file()),
    }
    calibration = RejectCalibration.read(head_dir)
    if calibration is not None:
        scores = {"max_probability": max_probability(head_proba)}
        if "nearest_train" in calibration.quantiles:
            held_out = emb.split != "train"
            scores["nearest_train"] = np.ones(len(X), dtype=np.float32)  # a train row is its own nearest
            scores["nearest_train"][held_out] = nearest_similarity(X[held_out], X[emb.split == "train"])
        metrics["reject"] = reject_metrics(calibration, (reject or RejectParams()).accept, scores, emb, proba)
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2))
    write_predictions(predictions_path, emb, proba)
    write_confusion_rows(confusion_path, emb, proba)
    test = metrics.get("test", {})
    print(
        f"evaluate {name}: test accuracy {test.get('accuracy', float('nan')):.4f}, "
        f"macro F1 {test.get('macro_f1', float('nan')):.4f} -> {metrics_path}"
    )
    return metrics


def reject_metrics(calibration: RejectCalibration, accept: float, scores: dict, emb, proba) -> dict:
    """Per score: the threshold accepting `accept` of the known-class validation images, and per
    split the share accepted and the accuracy on the accepted images."""
    out = {"accept": accept}
    correct = proba.argmax(axis=1) == emb.labels
    for name, values in scores.items():
        try:
            threshold = calibration.threshold(accept, name)
        except PipelineError as exc:  # a score that cannot reject here says why, beside the others
            out[name] = {"note": str(exc)}
            continue
        kept = values >= threshold
        out[name] = {"threshold": threshold} | {
            split: {
                "accepted": float(kept[emb.split == split].mean()),
                "accuracy_accepted": float(correct[(emb.split == split) & kept].mean())
                if (kept & (emb.split == split)).any()
                else None,
            }
            for split in ("valid", "test")
            if (emb.split == split).any()
        }
    return out


def main(argv: list[str] | None = None) -> None:
    files = ("head-dir", "embeddings", "metrics", "predictions", "confusion")
    params, args = parse_stage("evaluate", __doc__, argv, head=True, paths=dict.fromkeys(files, ""))
    run(
        name=args.head,
        params=params.block("evaluate", EvaluateParams),
        reject=params.block("reject", RejectParams),
        head_dir=args.head_dir,
        embeddings_path=args.embeddings,
        data_root=params.block("data", DataParams).root,
        metrics_path=args.metrics,
        predictions_path=args.predictions,
        confusion_path=args.confusion,
    )
