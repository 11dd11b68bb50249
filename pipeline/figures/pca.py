"""PCA figures: explained variance, the first two components by class, accuracy per size kept."""

from __future__ import annotations

from pathlib import Path

from sklearn.decomposition import PCA

from ..analysis.pca import PCAResult
from ..artifacts.embeddings import Embeddings
from .plots import plot_explained_variance, plot_line_grid, plot_scatter


def plot_pca(result: PCAResult, pca: PCA, emb: Embeddings, reports: Path) -> None:
    reports.mkdir(parents=True, exist_ok=True)
    ratios = pca.explained_variance_ratio_
    plot_explained_variance(ratios, reports / "variance.png", result.components_for_variance)
    plot_scatter(
        pca.transform(emb.vectors)[:, :2],
        emb.labels,
        emb.classes,
        reports / "scatter.png",
        f"Embeddings on the first two principal components ({ratios[:2].sum():.0%} of variance)",
    )
    plot_line_grid(
        {
            "Test accuracy against the number of components kept": {
                "L2 logistic regression": result.test_accuracy_by_components
            }
        },
        reports / "accuracy.png",
        "components",
        "test accuracy",
        baseline=1 / len(emb.classes),
        xscale="log",
    )
