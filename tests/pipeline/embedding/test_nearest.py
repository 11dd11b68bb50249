"""The HNSW graph against an exact search: the same neighbours for nearly every row, saved and loaded."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.embedding.nearest import CosineGraph, approximate, unit_rows


def clustered(rows: int, dim: int = 64, classes: int = 50, seed: int = 0):
    """Class-centred Gaussians, as embeddings of a labelled task look: labels and vectors."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, rows)
    return labels, rng.normal(size=(classes, dim))[labels] + 1.5 * rng.normal(size=(rows, dim))


def exact_neighbours(rows: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    similarity = unit_rows(queries).astype(np.float64) @ unit_rows(rows).T.astype(np.float64)
    return np.argsort(-similarity, axis=1)[:, :k]


def test_the_graph_finds_the_exact_neighbours_of_nearly_every_query():
    _, vectors = clustered(20_000)
    rows, queries = vectors[:19_000], vectors[19_000:]
    graph = CosineGraph.build(rows)
    similarity, found = graph.search(queries, 10)
    exact = exact_neighbours(rows, queries, 10)
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)])
    assert recall > 0.95
    assert (np.diff(similarity, axis=1) <= 1e-6).all()  # most similar first
    cosine = np.einsum("ij,ikj->ik", unit_rows(queries), unit_rows(rows)[found])
    np.testing.assert_allclose(similarity, cosine, atol=1e-5)  # the similarities are the rows' own


def test_a_saved_graph_searches_as_the_one_built(tmp_path):
    _, vectors = clustered(3_000)
    graph = CosineGraph.build(vectors)
    np.save(tmp_path / "graph.npy", graph.to_bytes())
    again = CosineGraph.from_bytes(np.load(tmp_path / "graph.npy"))
    for a, b in zip(graph.search(vectors[:200], 5), again.search(vectors[:200], 5), strict=True):
        np.testing.assert_array_equal(a, b)


def test_more_neighbours_than_rows_is_refused():
    with pytest.raises(ValueError, match="5 neighbours asked of a graph of 3 rows"):
        CosineGraph.build(np.eye(3, 8)).search(np.eye(1, 8), 5)


def test_auto_is_exact_up_to_the_threshold():
    assert not approximate("auto", 500, above=500) and approximate("auto", 501, above=500)
    assert approximate("approximate", 10, above=500) and not approximate("exact", 10**9, above=500)
