"""k-nearest-neighbours head on cosine similarity: a cheap, assumption-free baseline.

Exact (scikit-learn's brute-force search, BLAS) up to KNN_GRAPH_ABOVE train rows; above, an HNSW
graph (pipeline/embedding/nearest.py) whose neighbours vote the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import Normalizer
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from ..embedding.nearest import KNN_GRAPH_ABOVE, CosineGraph, approximate
from ..exceptions import PipelineError
from ..params import rule
from .base import validated_fit
from .modules import NeighbourVote
from .sklearn_base import SklearnHead

GRAPH_FILE = "graph.npz"  # the HNSW graph and the train rows' class codes


class KNNHead(SklearnHead):
    """k nearest neighbours by cosine similarity (L2-normalised vectors), distance-weighted.

    `index`: exact, approximate (an HNSW graph), or auto (approximate above KNN_GRAPH_ABOVE train rows)."""

    name = "knn"
    rules = {
        "n_neighbors": rule(min=1),
        "weights": rule(choices=("uniform", "distance")),
        "index": rule(choices=("auto", "exact", "approximate")),
    }

    def __init__(self, n_neighbors: int = 10, weights: str = "distance", index: str = "auto"):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.index = index

    def _pipeline(self) -> Pipeline:
        return make_pipeline(Normalizer(), KNeighborsClassifier(self.n_neighbors, weights=self.weights))

    @validated_fit
    def fit(self, X, y, eval_set=None):
        X, y = validate_data(self, X, y)
        if not approximate(self.index, len(X), KNN_GRAPH_ABOVE):
            self.graph_ = None
            return super().fit(X, y, eval_set)
        if self.n_neighbors > len(X):
            raise _too_many(self.n_neighbors, len(X))
        self.classes_ = unique_labels(y)
        self.codes_ = np.searchsorted(self.classes_, y)
        self.graph_ = CosineGraph.build(X)
        return self

    def predict_proba(self, X) -> np.ndarray:
        if getattr(self, "graph_", None) is None:
            return super().predict_proba(X)
        check_is_fitted(self, "codes_")
        codes, distance = self._neighbours(self.graph_, self.codes_, X, self.n_neighbors)
        return neighbour_vote(codes, distance, self.weights, len(self.classes_))

    @staticmethod
    def _neighbours(graph: CosineGraph, codes: np.ndarray, X, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Class codes of each row's k nearest train rows, and their Euclidean distances between
        unit vectors (what the exact search weighs by): sqrt(2 - 2 cos)."""
        similarity, rows = graph.search(np.asarray(X, dtype=np.float32), k)
        return codes[rows], np.sqrt(np.maximum(2.0 - 2.0 * similarity.astype(np.float64), 0.0))

    def probability_module(self) -> nn.Module | None:
        """The exact search's vote with the train vectors as constants."""
        if getattr(self, "graph_", None) is not None:
            raise PipelineError(
                f"head knn searches an HNSW graph ({len(self.codes_)} train rows, above {KNN_GRAPH_ABOVE}), "
                "which an ONNX graph cannot hold: retrain it with heads.knn.index=exact to export it"
            )
        check_is_fitted(self, "model_")
        search = self.model_[-1]
        return NeighbourVote(
            search._fit_X, search._y, len(self.classes_), self.n_neighbors, self.weights
        ).eval()

    def fit_report(self) -> dict:
        graph = getattr(self, "graph_", None)
        return {"index": "approximate (HNSW)" if graph is not None else "exact"}

    def _save_state(self, directory: Path) -> None:
        if self.graph_ is None:
            return super()._save_state(directory)
        np.savez(directory / GRAPH_FILE, graph=self.graph_.to_bytes(), codes=self.codes_)

    def _load_state(self, directory: Path) -> None:
        if not (directory / GRAPH_FILE).exists():
            self.graph_ = None
            return super()._load_state(directory)
        with np.load(directory / GRAPH_FILE) as saved:
            self.graph_, self.codes_ = CosineGraph.from_bytes(saved["graph"]), saved["codes"]
        self.n_features_in_ = self.graph_.index.d

    scores_candidates_together = True

    def validation_probas(self, combos: list[dict], X, y, X_val) -> Iterator[tuple]:
        """Every candidate's valid probabilities from one neighbour search: the largest k's
        neighbours, found once, hold every smaller k's (nearest first), and both weightings
        are functions of them. As search's trials: (params, probabilities or the error why it
        cannot run here, seconds, None: no head is fitted until one wins)."""
        sizes = [c.get("n_neighbors", self.n_neighbors) for c in combos]
        start = time.perf_counter()
        widest = min(max(sizes), len(X))
        classes = unique_labels(y)
        if approximate(self.index, len(X), KNN_GRAPH_ABOVE):
            graph = CosineGraph.build(X)
            codes, distance = self._neighbours(graph, np.searchsorted(classes, np.asarray(y)), X_val, widest)
        else:
            exact = KNNHead(widest)._pipeline().fit(X, y)
            distance, index = exact[-1].kneighbors(exact[0].transform(X_val))
            codes = np.searchsorted(classes, np.asarray(y)[index])
        shared = (time.perf_counter() - start) / len(combos)
        for params, k in zip(combos, sizes, strict=True):
            start = time.perf_counter()
            if k > len(X):
                yield (
                    params,
                    _too_many(k, len(X)),
                    shared,
                    None,
                )
                continue
            weights = params.get("weights", self.weights)
            proba = neighbour_vote(codes[:, :k], distance[:, :k], weights, len(classes))
            yield params, proba, shared + time.perf_counter() - start, None


def _too_many(k: int, rows: int) -> ValueError:
    return ValueError(f"n_neighbors = {k} is more than the {rows} train rows")


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
