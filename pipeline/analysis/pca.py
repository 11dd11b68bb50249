"""PCA of the embeddings, fitted on train rows: variance, a 2-D map, and accuracy per kept size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .results import Result


@dataclass
class PCAResult(Result):
    fitted_on: str
    n_train: int
    explained_variance_ratio_top10: list[float]
    components_for_variance: dict[str, int]  # "0.9" -> components needed for 90% of the variance
    test_accuracy_by_components: dict[str, float]  # "k" -> accuracy on the first k components


def analyse_pca(X_train, y_train, X_test, y_test, sizes: list[int], C: float) -> tuple[PCA, PCAResult]:
    """PCA fitted on the train rows, and what it says; the fitted PCA draws the figures."""
    pca = fit_pca(X_train)
    accuracy = accuracy_by_components(pca, X_train, y_train, X_test, y_test, sizes, C)
    return pca, PCAResult(
        fitted_on="train",
        n_train=len(X_train),
        explained_variance_ratio_top10=[float(r) for r in pca.explained_variance_ratio_[:10]],
        components_for_variance=components_for(pca),
        test_accuracy_by_components={str(k): v for k, v in accuracy.items()},
    )


def fit_pca(train: np.ndarray, seed: int = 0) -> PCA:
    return PCA(n_components=min(train.shape), random_state=seed).fit(train)


def components_for(pca: PCA, fractions=(0.5, 0.8, 0.9, 0.95, 0.99)) -> dict[str, int]:
    """How many components explain each fraction of the train variance."""
    cumulative = np.cumsum(pca.explained_variance_ratio_)
    return {f"{f:g}": int(np.searchsorted(cumulative, f) + 1) for f in fractions if cumulative[-1] >= f}


def accuracy_by_components(
    pca: PCA, X_train, y_train, X_test, y_test, sizes: list[int], C: float = 0.1
) -> dict[int, float]:
    """Test accuracy of an L2 logistic regression on the first k components, per k."""
    Z_train, Z_test = pca.transform(X_train), pca.transform(X_test)
    result = {}
    for k in sorted({k for k in sizes if k <= Z_train.shape[1]}):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=3000))
        model.fit(Z_train[:, :k], y_train)
        result[k] = float(model.score(Z_test[:, :k], y_test))
    return result
