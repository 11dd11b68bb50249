"""Near-duplicates (resized, re-encoded copies of one picture) by cosine similarity of the embeddings.

Raw ResNet features put every photo close to every other (a random-init network more so:
different pictures score 0.99 on centred cosine), so the vectors are PCA-whitened first, the
usual step for retrieval with CNN features (Jégou & Chum, ECCV 2012): fitted on the task's
own images, it divides each principal direction by its spread, so what pictures share
counts for little and what one picture's copies share counts for much. Measured on the
shared Caltech subset with random-init weights (128 components): 1.5x enlarged, 0.8x reduced
and JPEG q35/q75 copies of 50 pictures all scored above 0.82 with their original; no two
different of those pictures scored above 0.35.

Pairs come from an exact scan of all pairs in blocks up to `exact_max` images, and from
scikit-learn's ball tree beyond (a radius query on the whitened unit vectors: the same
pairs, found without comparing every two images).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from .results import Result

_BLOCK = 2048  # rows per block of the exact scan: a 2048 x n similarity block at a time


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


def whitened(vectors: np.ndarray, components: int) -> np.ndarray:
    """Unit rows in the space of the top principal directions, each scaled to unit variance.

    At most one component per 2 images: whitening as many directions as there are images
    would make every image equally far from every other, copies included.
    """
    k = max(1, min(components, len(vectors) // 2, vectors.shape[1]))
    z = PCA(k, whiten=True, random_state=0).fit_transform(np.asarray(vectors, dtype=np.float64))
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def similar_pairs(
    unit: np.ndarray, threshold: float, exact_max: int = 20_000
) -> list[tuple[int, int, float]]:
    """(i, j, cosine) with i < j for every pair of unit rows above `threshold`, most similar first."""
    found = []
    if len(unit) <= exact_max:
        for start in range(0, len(unit), _BLOCK):
            block = unit[start : start + _BLOCK] @ unit.T
            rows, cols = np.nonzero(block > threshold)
            keep = cols > rows + start
            found += zip(
                (rows + start)[keep].tolist(),
                cols[keep].tolist(),
                block[rows, cols][keep].tolist(),
                strict=True,
            )
    else:
        # Unit vectors: |a - b|^2 = 2 - 2 cos(a, b), so a cosine above t is a distance below this.
        radius = np.sqrt(max(0.0, 2 - 2 * threshold))
        index = NearestNeighbors(radius=radius, algorithm="ball_tree").fit(unit)
        for i, neighbours in enumerate(index.radius_neighbors(unit, return_distance=False)):
            for j in neighbours[neighbours > i].tolist():
                cosine = float(unit[i] @ unit[j])
                if cosine > threshold:
                    found.append((i, j, cosine))
    return sorted(found, key=lambda p: -p[2])


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
    pairs = similar_pairs(whitened(vectors, components), threshold)
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
        threshold, components, len(vectors), len(pairs), int((sizes > 1).sum()), cross, grouped
    )
