"""Benchmark: nearest neighbours by cosine, exact against two HNSW libraries, from one run.

    python bench/neighbours.py [--sizes 25000,50000,100000,200000] [--query-share 0.67]
        [--queries N] [--dim 512] [--classes 100] [--out bench/results/neighbours.txt]

Synthetic task vectors (class-centred Gaussians, as embeddings of a labelled task look) of
each size, searched by other vectors for their 40 nearest (the k-NN head's widest
candidate): scikit-learn's brute-force search (the k-NN head's exact search, BLAS), faiss's
HNSW graph (what pipeline/embedding/nearest.py builds: M 32, efConstruction 80, efSearch 128)
and usearch's with the same settings (`pip install usearch`; left out without it).

The queries grow with the rows, as in the pipeline: a k-NN head on `rows` train rows is asked
at least for the valid and test splits, 0.67 x rows at the default 0.6/0.2/0.2 split
(`evaluate` also predicts the train rows; the leakage scan searches every image), so
`--query-share` defaults to that lower bound; `--queries N` fixes the count instead.
Per library and size: build and query seconds, recall of the exact 10 and 40 nearest, and the
k-NN vote's agreement with the exact one; then, per size, exact against faiss's build + query,
and the smallest size where the graph wins: where `heads.knn.index: auto` should switch
(`KNN_GRAPH_ABOVE`). Writes its lines to `--out` with the machine. Run it alone.
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

from bench.machine import RESULTS, RecordedOutput  # noqa: E402
from pipeline.embedding.nearest import (  # noqa: E402
    BUILD_BREADTH,
    KNN_GRAPH_ABOVE,
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
    parser.add_argument("--sizes", default="25000,50000,100000,200000")
    parser.add_argument("--query-share", type=float, default=0.67, help="queries per row")
    parser.add_argument("--queries", type=int, default=None, help="a fixed query count instead")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS / "neighbours.txt")
    args = parser.parse_args()
    methods = [("faiss HNSW", faiss_graph)]
    if importlib.util.find_spec("usearch") is not None:
        methods.append(("usearch HNSW", usearch_graph))
    sizes = [int(s) for s in args.sizes.split(",")]
    totals: dict[int, dict[str, float]] = {}
    with RecordedOutput(args.out):
        if len(methods) == 1:
            print("usearch not installed (pip install usearch): faiss alone against exact")
        for rows in sizes:
            queries = args.queries or round(args.query_share * rows)
            X, labels, Q = task(rows, queries, args.dim, args.classes)
            built, seconds, truth = exact(X, Q)
            print(f"{rows:>9,} rows x {args.dim}-d, {queries:,} queries, k {K}:")
            print(f"  {'exact (sklearn brute)':<22} build {built:6.1f} s  query {seconds:6.1f} s", flush=True)
            totals[rows] = {"exact": built + seconds}
            expected = vote(labels, truth)
            for name, method in methods:
                built, seconds, found = method(X, Q)
                totals[rows][name] = built + seconds
                print(
                    f"  {name:<22} build {built:6.1f} s  query {seconds:6.1f} s  recall@10 "
                    f"{recall(found, truth, 10):.3f}  recall@40 {recall(found, truth, K):.3f}  "
                    f"10-NN vote agrees {np.mean(vote(labels, found) == expected):.3f}",
                    flush=True,
                )
        print("exact against faiss's build + query, each size's queries as above:")
        for rows, total in totals.items():
            faster = "graph" if total["faiss HNSW"] < total["exact"] else "exact"
            print(f"  {rows:>9,} rows: exact {total['exact']:7.1f} s | faiss {total['faiss HNSW']:7.1f} s"
                  f" -> {faster} faster ({total['exact'] / total['faiss HNSW']:.2f}x)")  # fmt: skip
        wins = [rows for rows, total in totals.items() if total["faiss HNSW"] < total["exact"]]
        where = f"from {min(wins):,} rows" if wins else "at none of these sizes"
        print(f"the graph wins {where}; KNN_GRAPH_ABOVE is {KNN_GRAPH_ABOVE:,}")


if __name__ == "__main__":
    main()
