"""Stage `pca`: PCA of the embeddings fitted on train rows; variance, 2-D map, accuracy vs size."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..analysis.pca import accuracy_by_components, components_for, fit_pca
from ..config import PCAParams
from ..embeddings import load_embeddings
from ..params import read_block
from ..plots import plot_explained_variance, plot_line_grid, plot_scatter


def run(params: PCAParams, embeddings_path: Path, metrics_path: Path, reports: Path) -> dict:
    emb = load_embeddings(embeddings_path)
    X_train, y_train = emb.subset("train")
    X_test, y_test = emb.subset("test")
    pca = fit_pca(X_train)
    ratios = pca.explained_variance_ratio_
    marks = components_for(pca)
    accuracy = accuracy_by_components(pca, X_train, y_train, X_test, y_test, params.sizes, params.C)
    result = {
        "fitted_on": "train",
        "n_train": len(X_train),
        "explained_variance_ratio_top10": [float(r) for r in ratios[:10]],
        "components_for_variance": marks,
        "test_accuracy_by_components": {str(k): v for k, v in accuracy.items()},
    }
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(result, indent=2))
    reports.mkdir(parents=True, exist_ok=True)
    plot_explained_variance(ratios, reports / "variance.png", marks)
    plot_scatter(
        pca.transform(emb.vectors)[:, :2],
        emb.labels,
        emb.classes,
        reports / "scatter.png",
        f"Embeddings on the first two principal components ({ratios[:2].sum():.0%} of variance)",
    )
    plot_line_grid(
        {"Test accuracy against the number of components kept": {"L2 logistic regression": accuracy}},
        reports / "accuracy.png",
        "components",
        "test accuracy",
        baseline=1 / len(emb.classes),
        xscale="log",
    )
    print(f"pca: {marks} components for those variance fractions; accuracy by size {accuracy}")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline pca", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--reports", type=Path, required=True)
    args = parser.parse_args(argv)
    run(read_block("pca", PCAParams, args.params), args.embeddings, args.metrics, args.reports)
