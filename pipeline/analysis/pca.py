"""PCA of the embeddings, fitted on train rows: variance, a 2-D map, and accuracy per kept size."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


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
