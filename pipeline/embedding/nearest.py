"""Approximate nearest neighbours by cosine similarity: an HNSW graph (faiss), for searches
too large for exact BLAS scans.

Exact scans cost queries x rows x features: the k-NN head's test predictions at 100,000
images (20,000 queries against 60,000 rows) take about a minute on 2 cores, at a million
images two hours. Above `APPROXIMATE_ABOVE` rows the k-NN head and the leakage scan search
an HNSW graph instead (Malkov & Yashunin, 2018), which costs about log(rows) per query. faiss
was picked over usearch by bench/neighbours.py (recall and speed at 200,000 x 512). The
graph's neighbours are its best guess, not a proof: bench/neighbours.py prints their recall
against the exact search, and the tests compare both.
"""

from __future__ import annotations

import numpy as np

# Rows above which searches go to the graph (the k-NN head's `search: auto`, leakage):
# below, the exact scan takes under a few minutes on 2 cores and is the right answer.
APPROXIMATE_ABOVE = 200_000
NEIGHBOURS_PER_NODE = 32  # HNSW's M: links per node; recall above 0.95 at 512-d (bench/neighbours.py)
BUILD_BREADTH = 80  # efConstruction: candidates kept while linking a new node
SEARCH_BREADTH = 128  # efSearch: candidates kept while searching (at least 2k)


def approximate(method: str, rows: int) -> bool:
    """Whether a search of `rows` rows is approximate: 'exact', 'approximate', or 'auto' (by size)."""
    return method == "approximate" or (method == "auto" and rows > APPROXIMATE_ABOVE)


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
