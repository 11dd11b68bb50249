"""Approximate nearest neighbours by cosine similarity: an HNSW graph (faiss), for searches
too large for exact BLAS scans.

Exact scans cost queries x rows x features, and a task's queries grow with its rows, so an
exact search grows with the square of the task. Above a size the k-NN head and the leakage
scan search an HNSW graph instead (Malkov & Yashunin, 2018), which costs about log(rows) per
query. faiss was picked over usearch by bench/neighbours.py (build, query and recall up to
200,000 x 512). The graph's neighbours are its best guess, not a proof: bench/neighbours.py
prints their recall against the exact search, and the tests compare both.
"""

from __future__ import annotations

import numpy as np

# Train rows above which the k-NN head's `index: auto` searches the graph: where
# bench/neighbours.py shows its build and the held-out splits' queries costing less than the
# exact search (bench/results/neighbours.txt).
KNN_GRAPH_ABOVE = 50_000
# Images above which the leakage scan takes each image's nearest from the graph. It stays exact
# further than the k-NN head: it must find every pair above a threshold, not a few neighbours,
# and it runs once per task.
LEAKAGE_GRAPH_ABOVE = 200_000
NEIGHBOURS_PER_NODE = 32  # HNSW's M: links per node; recall above 0.95 at 512-d (bench/neighbours.py)
BUILD_BREADTH = 80  # efConstruction: candidates kept while linking a new node
SEARCH_BREADTH = 128  # efSearch: candidates kept while searching (at least 2k)


def approximate(method: str, rows: int, above: int) -> bool:
    """Whether a search of `rows` rows is approximate: 'exact', 'approximate', or 'auto' (a graph
    above `above` rows)."""
    return method == "approximate" or (method == "auto" and rows > above)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """float32 rows scaled to unit length (a zero row stays zero), as the graph stores them."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12))


class CosineGraph:
    """An HNSW graph over unit vectors; `search` gives each query's k most similar rows."""

    def __init__(self, index):
        self.index = index

    @classmethod
    def build(cls, vectors: np.ndarray) -> CosineGraph:
        import faiss

        unit = unit_rows(vectors)
        index = faiss.IndexHNSWFlat(unit.shape[1], NEIGHBOURS_PER_NODE, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = BUILD_BREADTH
        index.add(unit)
        return cls(index)

    def __len__(self) -> int:
        return self.index.ntotal

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(cosine similarity, row) of each query's k nearest rows, most similar first."""
        if k > len(self):
            raise ValueError(f"{k} neighbours asked of a graph of {len(self)} rows")
        self.index.hnsw.efSearch = max(SEARCH_BREADTH, 2 * k)
        similarity, rows = self.index.search(unit_rows(queries), k)
        if (rows < 0).any():  # the graph found fewer than k: never silently vote with a wrong row
            raise ValueError(f"the HNSW graph found fewer than {k} neighbours for some rows: search exactly")
        return similarity, rows

    def to_bytes(self) -> np.ndarray:
        import faiss

        return faiss.serialize_index(self.index)

    @classmethod
    def from_bytes(cls, data: np.ndarray) -> CosineGraph:
        import faiss

        return cls(faiss.deserialize_index(np.asarray(data, dtype=np.uint8)))
