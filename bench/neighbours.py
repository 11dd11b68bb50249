"""Benchmark: nearest neighbours by cosine, exact against two HNSW libraries, from one run.

    python bench/neighbours.py [--sizes 50000,200000] [--queries 5000] [--dim 512] [--classes 100]

Synthetic task vectors (class-centred Gaussians, as embeddings of a labelled task look) of
each size, searched by `--queries` others for their 40 nearest (the k-NN head's widest
candidate): scikit-learn's brute-force search (the k-NN head's exact search, BLAS), faiss's
HNSW graph (what pipeline/embedding/nearest.py builds: M 32, efConstruction 80, efSearch 128)
and usearch's with the same settings. Per library and size: build seconds, query seconds,
recall of the exact 10 and 40 nearest, and the k-NN vote's agreement with the exact one;
then each method's time per query from the smallest size to the largest (exact: linear in
rows; a graph: about logarithmic). Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.embedding.nearest import (  # noqa: E402
    BUILD_BREADTH,
    NEIGHBOURS_PER_NODE,
    SEARCH_BREADTH,
    CosineGraph,
    unit_rows,
)

K = 40


def task(rows: int, queries: int, dim: int, classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)).astype(np.float32)
    labels = rng.integers(0, classes, rows + queries)
    X = centres[labels] + 2.5 * rng.normal(size=(rows + queries, dim)).astype(np.float32)
    return unit_rows(X[:rows]), labels[:rows], unit_rows(X[rows:])


def exact(X, Q):
    start = time.perf_counter()
    index = NearestNeighbors(n_neighbors=K, algorithm="brute").fit(X)
    built = time.perf_counter() - start
    start = time.perf_counter()
    _, rows = index.kneighbors(Q)
    return built, time.perf_counter() - start, rows


def faiss_graph(X, Q):
    start = time.perf_counter()
    graph = CosineGraph.build(X)
    built = time.perf_counter() - start
    start = time.perf_counter()
    _, rows = graph.search(Q, K)
    return built, time.perf_counter() - start, rows


def usearch_graph(X, Q):
    from usearch.index import Index

    start = time.perf_counter()
    index = Index(ndim=X.shape[1], metric="ip", dtype="f32", connectivity=NEIGHBOURS_PER_NODE,
                  expansion_add=BUILD_BREADTH, expansion_search=SEARCH_BREADTH)  # fmt: skip
    index.add(np.arange(len(X)), X)
    built = time.perf_counter() - start
    start = time.perf_counter()
    rows = index.search(Q, K).keys
    return built, time.perf_counter() - start, np.asarray(rows, dtype=np.int64)


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)]))


def vote(labels: np.ndarray, rows: np.ndarray, k: int = 10) -> np.ndarray:
    """The uniform 10-NN vote (ties to the lowest class)."""
    return np.array([np.bincount(labels[r[:k]]).argmax() for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50000,200000")
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--classes", type=int, default=100)
    args = parser.parse_args()
    if importlib.util.find_spec("usearch") is None:
        sys.exit("bench/neighbours.py compares faiss with usearch, not installed here: pip install usearch")
    sizes = [int(s) for s in args.sizes.split(",")]
    per_query: dict[str, list[float]] = {}
    for rows in sizes:
        X, labels, Q = task(rows, args.queries, args.dim, args.classes)
        built, seconds, truth = exact(X, Q)
        print(f"{rows:>9,} rows x {args.dim}-d, {args.queries:,} queries, k {K}:")
        print(f"  exact (sklearn brute)  build {built:6.1f} s  query {seconds:6.1f} s", flush=True)
        per_query.setdefault("exact", []).append(seconds / args.queries)
        expected = vote(labels, truth)
        for name, method in (("faiss HNSW", faiss_graph), ("usearch HNSW", usearch_graph)):
            built, seconds, found = method(X, Q)
            per_query.setdefault(name, []).append(seconds / args.queries)
            print(
                f"  {name:<22} build {built:6.1f} s  query {seconds:6.1f} s  recall@10 "
                f"{recall(found, truth, 10):.3f}  recall@40 {recall(found, truth, K):.3f}  "
                f"10-NN vote agrees {np.mean(vote(labels, found) == expected):.3f}",
                flush=True,
            )
    if len(sizes) > 1:
        growth = sizes[-1] / sizes[0]
        print(f"time per query from {sizes[0]:,} to {sizes[-1]:,} rows ({growth:.0f}x the rows):")
        for name, times in per_query.items():
            print(f"  {name:<22} {times[-1] / times[0]:5.2f}x")


if __name__ == "__main__":
    main()
