"""Stage `confusion`: where each head errs, where heads disagree, and which labels look wrong."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis.confusion import (
    ConfusionResult,
    confusion_counts,
    disagreement,
    head_confusion,
    label_issues,
)
from ..artifacts.embeddings import load_embeddings
from ..artifacts.predictions import read_all_heads
from ..data.params import DataParams
from ..figures.confusion import plot_disagreements, plot_head, plot_label_issues
from ..figures.plots import thumbnails
from ..heads.names import enabled_heads
from ..params import param
from .arguments import parse_stage


@dataclass(frozen=True)
class ConfusionParams:
    top_pairs: int = param(10, min=1)
    gallery: int = param(24, min=1)  # misclassified / disagreement / label-issue thumbnails
    per_class: int = param(5, min=1)  # most confident images shown per class
    classes_shown: int = param(30, min=2)  # beyond this many classes, figures keep the most confused
    label_issue_folds: int = param(5, min=2)
    seed: int = param(0, min=0)


def run(
    *,
    heads: list[str],
    params: ConfusionParams,
    data_root: str,
    embeddings_path: Path,
    predictions_tpl: str,
    metrics_path: Path,
    reports: Path,
) -> ConfusionResult:
    emb = load_embeddings(embeddings_path)
    classes, index = emb.classes, {c: i for i, c in enumerate(emb.classes)}
    thumb = thumbnails(Path(data_root).expanduser())
    reports.mkdir(parents=True, exist_ok=True)

    predictions = read_all_heads(heads, predictions_tpl)
    paths = predictions[heads[0]].paths
    true = np.array([index[c] for c in predictions[heads[0]].true])
    predicted = {h: np.array([index[c] for c in predictions[h].predicted]) for h in heads}
    per_head = {}
    for head in heads:
        pred, confidence = predicted[head], predictions[head].confidence
        counts = confusion_counts(true, pred, len(classes))
        per_head[head] = head_confusion(counts, classes, params.top_pairs)
        plot_head(head, per_head[head], counts, true, pred, confidence, classes, paths, thumb,
                  params.gallery, params.per_class, params.classes_shown, reports)  # fmt: skip
    plot_disagreements(predicted, true, classes, paths, thumb, params.gallery, reports)
    issues = label_issues(
        emb.vectors, emb.labels, emb.paths, classes, params.label_issue_folds, params.seed, params.gallery
    )
    plot_label_issues(issues, thumb, reports)

    result = ConfusionResult(per_head, disagreement(predicted, true, classes), issues)
    result.write(metrics_path)
    print(
        f"confusion: {len(heads)} heads; heads disagree on {result.disagreement.images} test images; "
        f"{len(issues)} likely label issues"
    )
    return result


def main(argv: list[str] | None = None) -> None:
    params, args = parse_stage(
        "confusion",
        __doc__,
        argv,
        paths=dict.fromkeys(("embeddings", "metrics", "reports"), ""),
        templates={"predictions": "each head's predictions"},
    )
    run(
        heads=enabled_heads(params.mapping("heads")),
        params=params.block("confusion", ConfusionParams),
        data_root=params.block("data", DataParams).root,
        embeddings_path=args.embeddings,
        predictions_tpl=args.predictions,
        metrics_path=args.metrics,
        reports=args.reports,
    )
