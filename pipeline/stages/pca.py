"""Stage `pca`: PCA of the embeddings fitted on train rows; variance, 2-D map, accuracy vs size."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..analysis.pca import PCAResult, analyse_pca
from ..config import PCAParams
from ..embeddings import load_embeddings
from ..figures.pca import plot_pca
from ..params import read_block


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
    parser = argparse.ArgumentParser(prog="workbench pca", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--reports", type=Path, required=True)
    args = parser.parse_args(argv)
    params = read_block("pca", PCAParams, args.params)
    run(params=params, embeddings_path=args.embeddings, metrics_path=args.metrics, reports=args.reports)
