"""k-nearest-neighbours head on cosine similarity: a cheap, assumption-free baseline."""

from __future__ import annotations

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
