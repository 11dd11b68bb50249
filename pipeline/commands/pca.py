"""Stage `pca`: PCA of the embeddings fitted on train rows; variance, 2-D map, accuracy vs size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..analysis.pca import PCAResult, analyse_pca
from ..artifacts.embeddings import load_embeddings
from ..figures.pca import plot_pca
from ..params import param
from .arguments import parse_stage


@dataclass(frozen=True)
class PCAParams:
    sizes: list[int] = param([2, 4, 8, 16, 32, 64, 128, 256, 512], min=1)
    C: float = param(0.1, gt=0.0)


def run(*, params: PCAParams, embeddings_path: Path, metrics_path: Path, reports: Path) -> PCAResult:
    emb = load_embeddings(embeddings_path)
    pca, result = analyse_pca(*emb.subset("train"), *emb.subset("test"), params.sizes, params.C)
    result.write(metrics_path)
    plot_pca(result, pca, emb, reports)
    print(
        f"pca: {result.components_for_variance} components for those variance fractions; "
        f"accuracy by size {result.test_accuracy_by_components}"
    )
    return result


def main(argv: list[str] | None = None) -> None:
    params, args = parse_stage(
        "pca", __doc__, argv, paths=dict.fromkeys(("embeddings", "metrics", "reports"), "")
    )
    run(
        params=params.block("pca", PCAParams),
        embeddings_path=args.embeddings,
        metrics_path=args.metrics,
        reports=args.reports,
    )
