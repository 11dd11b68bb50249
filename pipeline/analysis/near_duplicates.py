"""Near-duplicates (resized, re-encoded copies of one picture) by cosine similarity of the embeddings.

Raw ResNet features put every photo close to every other (a random-init network more so:
different pictures score 0.99 on centred cosine), so the vectors are PCA-whitened first, the
usual step for retrieval with CNN features (Jégou & Chum, ECCV 2012): fitted on the task's
own images, it divides each principal direction by its spread, so what pictures share
counts for little and what one picture's copies share counts for much. Measured on the
shared Caltech subset with random-init weights (128 components): 1.5x enlarged, 0.8x reduced
and JPEG q35/q75 copies of 50 pictures all scored above 0.82 with their original; no two
different of those pictures scored above 0.35.

Pairs come from an exact scan of all pairs in blocks of BLAS matrix products; above
LEAKAGE_GRAPH_ABOVE images,
from each image's 32 nearest in an HNSW graph (pipeline/embedding/nearest.py), which misses
a pair only where a picture has more than 32 copies closer than it (their group still joins
through the copies' own pairs) or the graph misses a neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from ..embedding.nearest import LEAKAGE_GRAPH_ABOVE, CosineGraph, approximate
from .results import Result

_BLOCK = 1024  # rows per block of the scan: a 1024 x n float32 similarity block at a time
_FLOAT32_SLACK = 1e-4  # float32 cosines of unit vectors are within ~1e-6 of float64's
GRAPH_NEIGHBOURS = 32  # each image's nearest looked at in the graph


@dataclass
class NearPair(Result):
    a: str  # path
    b: str
    split_a: str
    split_b: str
    label_a: str
    label_b: str
    similarity: float


@dataclass
class LeakageResult(Result):
    threshold: float
    components: int  # PCA-whitening components
    n_images: int
    pairs: int  # near-duplicate pairs in all splits
    groups: int  # connected groups of near-duplicates (two or more images)
    cross_split: list[NearPair]  # the pairs whose images sit in different splits, most similar first
    grouped: bool  # data.near_duplicates.group: prepare kept each group in one split
    search: str = "exact"  # or "approximate": each image's nearest in an HNSW graph


def whitened(vectors: np.ndarray, components: int) -> np.ndarray:
    """Unit rows in the space of the top principal directions, each scaled to unit variance.

    At most one component per 2 images: whitening as many directions as there are images
    would make every image equally far from every other, copies included.
    """
    k = max(1, min(components, len(vectors) // 2, vectors.shape[1]))
    z = PCA(k, whiten=True, random_state=0).fit_transform(np.asarray(vectors, dtype=np.float64))
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def similar_pairs(unit: np.ndarray, threshold: float, method: str = "auto") -> list[tuple[int, int, float]]:
    """(i, j, cosine) with i < j for every pair of unit rows above `threshold`, most similar first.

    An exact scan of the upper triangle in blocks, as float32 matrix products (BLAS), each
    candidate's cosine then recomputed in float64 and compared with `threshold`, so the pairs
    are the float64 scan's: 100,000 images of 128 components are 5e9 pairs, a few tens of
    seconds on 2 cores, in a block of memory. Above LEAKAGE_GRAPH_ABOVE rows (`method` auto, or
    "approximate"), the candidates are each row's nearest in an HNSW graph instead.
    """
    single = np.ascontiguousarray(unit, dtype=np.float32)
    graph = approximate(method, len(unit), LEAKAGE_GRAPH_ABOVE)
    candidates = _graph_candidates(single, threshold) if graph else _scan(single, threshold)
    found = []
    for rows, cols in candidates:
        cosine = np.einsum("ij,ij->i", unit[rows], unit[cols])
        above = cosine > threshold
        found += zip(rows[above].tolist(), cols[above].tolist(), cosine[above].tolist(), strict=True)
    return sorted(found, key=lambda p: -p[2])


def _scan(single: np.ndarray, threshold: float):
    """Every pair i < j whose float32 cosine is near or above `threshold`, a block of rows at a time."""
    for start in range(0, len(single), _BLOCK):
        stop = min(start + _BLOCK, len(single))
        block = single[start:stop] @ single[start:].T  # this block's rows against every later row
        rows, cols = np.nonzero(block > threshold - _FLOAT32_SLACK)
        keep = cols > rows  # col 0 of the block is row `start` itself
        yield rows[keep] + start, cols[keep] + start


def _graph_candidates(single: np.ndarray, threshold: float):
    """Pairs i < j among each row's nearest in an HNSW graph, near or above `threshold`, each once."""
    n = len(single)
    graph = CosineGraph.build(single)
    k = min(GRAPH_NEIGHBOURS + 1, n)  # + 1: a row finds itself
    codes = []  # i * n + j for i < j: a pair found from both of its rows counts once
    for start in range(0, n, 64 * _BLOCK):
        similarity, found = graph.search(single[start : start + 64 * _BLOCK], k)
        rows = np.broadcast_to(np.arange(start, start + len(found))[:, None], found.shape)
        near = (similarity > threshold - _FLOAT32_SLACK) & (found != rows)
        codes.append(np.minimum(rows, found)[near].astype(np.int64) * n + np.maximum(rows, found)[near])
    pairs = np.unique(np.concatenate(codes)) if codes else np.empty(0, np.int64)
    yield pairs // n, pairs % n


def groups(n: int, pairs: list[tuple[int, int, float]]) -> np.ndarray:
    """A group id per row: rows joined by a chain of pairs share one (union-find)."""
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in pairs:
        parent[root(i)] = root(j)
    return np.array([root(i) for i in range(n)])


def near_duplicate_groups(vectors: np.ndarray, threshold: float, components: int) -> np.ndarray:
    """A group id per row, for keeping each group of near-duplicates in one split."""
    return groups(len(vectors), similar_pairs(whitened(vectors, components), threshold))


def find_leakage(
    vectors: np.ndarray,
    paths,
    splits,
    labels,
    threshold: float,
    components: int,
    grouped: bool,
) -> LeakageResult:
    """Every near-duplicate pair, and those that cross splits (a test image with a copy in train)."""
    # decided once, here
    search = "approximate" if approximate("auto", len(vectors), LEAKAGE_GRAPH_ABOVE) else "exact"
    pairs = similar_pairs(whitened(vectors, components), threshold, search)
    ids = groups(len(vectors), pairs)
    cross = [
        NearPair(
            str(paths[i]), str(paths[j]), str(splits[i]), str(splits[j]), str(labels[i]), str(labels[j]), s
        )
        for i, j, s in pairs
        if splits[i] != splits[j]
    ]
    sizes = np.bincount(ids)
    return LeakageResult(
        threshold, components, len(vectors), len(pairs), int((sizes > 1).sum()), cross, grouped, search
    )
