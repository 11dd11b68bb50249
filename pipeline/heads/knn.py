"""k-nearest-neighbours head on cosine similarity: a cheap, assumption-free baseline."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import Normalizer

from ..params import rule
from .sklearn_base import SklearnHead


class KNNHead(SklearnHead):
    """k nearest neighbours by cosine similarity (L2-normalised vectors), distance-weighted."""

    name = "knn"
    rules = {"n_neighbors": rule(min=1), "weights": rule(choices=("uniform", "distance"))}

    def __init__(self, n_neighbors: int = 10, weights: str = "distance"):
        self.n_neighbors = n_neighbors
        self.weights = weights

    def _pipeline(self) -> Pipeline:
        return make_pipeline(Normalizer(), KNeighborsClassifier(self.n_neighbors, weights=self.weights))

    def validation_probas(self, combos: list[dict], X, y, X_val) -> Iterator[tuple]:
        """Every candidate's valid probabilities from one neighbour search: the largest k's
        neighbours, found once, hold every smaller k's (nearest first), and both weightings
        are functions of them. As search's trials: (params, probabilities or the error why it
        cannot run here, seconds, None: no head is fitted until one wins)."""
        sizes = [c.get("n_neighbors", self.n_neighbors) for c in combos]
        start = time.perf_counter()
        widest = KNNHead(min(max(sizes), len(X)))._pipeline().fit(X, y)
        distance, index = widest[-1].kneighbors(widest[0].transform(X_val))
        classes = widest[-1].classes_
        codes = np.searchsorted(classes, np.asarray(y)[index])
        shared = (time.perf_counter() - start) / len(combos)
        for params, k in zip(combos, sizes, strict=True):
            start = time.perf_counter()
            if k > len(X):
                yield (
                    params,
                    ValueError(f"n_neighbors = {k} is more than the {len(X)} train rows"),
                    shared,
                    None,
                )
                continue
            weights = params.get("weights", self.weights)
            proba = neighbour_vote(codes[:, :k], distance[:, :k], weights, len(classes))
            yield params, proba, shared + time.perf_counter() - start, None


def neighbour_vote(codes: np.ndarray, distance: np.ndarray, weights: str, n_classes: int) -> np.ndarray:
    """Class probabilities from each row's neighbours, as KNeighborsClassifier.predict_proba
    computes them: uniform votes, or 1 / distance, where a neighbour at distance 0 takes all
    the weight (shared among the exact matches)."""
    if weights == "uniform":
        w = np.ones_like(distance)
    else:
        with np.errstate(divide="ignore"):
            w = 1.0 / distance
        exact = np.isinf(w)
        rows = exact.any(axis=1)
        w[rows] = exact[rows]
    proba = np.zeros((len(codes), n_classes))
    np.add.at(proba, (np.arange(len(codes))[:, None], codes), w)
    total = proba.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0
    return proba / total
