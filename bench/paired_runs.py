"""Two runs of the pipeline on the same task, paired: every head's test accuracy in each, an
exact McNemar test on the rows, and the cosine between the two runs' vectors per image.

    python bench/paired_runs.py RUN_A RUN_B

RUN_A and RUN_B are project folders after `dvc repro compare` (a clone each, or
`dvc exp` workspaces), differing in how the vectors were made: fp32 against int8, torch
against a CPU runtime. Heads present in both are compared; rows are matched by image path.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pipeline.analysis.stats import mcnemar_exact
from pipeline.artifacts.embeddings import load_embeddings
from pipeline.artifacts.predictions import read_test_predictions


def vectors_cosine(a: Path, b: Path) -> tuple[str, str, np.ndarray]:
    first, second = (
        load_embeddings(a / "artifacts/embeddings.h5"),
        load_embeddings(b / "artifacts/embeddings.h5"),
    )
    if list(first.keys) != list(second.keys):
        raise SystemExit("the two runs embedded different images: compare runs of one task")
    x, y = np.asarray(first.vectors, dtype=np.float64), np.asarray(second.vectors, dtype=np.float64)
    cosine = (x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
    return first.source.describe(), second.source.describe(), cosine


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args()
    name_a, name_b, cosine = vectors_cosine(args.a, args.b)
    print(f"A: {name_a}\nB: {name_b}")
    print(f"vectors: cosine A-B over {len(cosine)} images: min {cosine.min():.5f}, "
          f"1st percentile {np.percentile(cosine, 1):.5f}, median {np.median(cosine):.6f}")  # fmt: skip
    heads = sorted(
        p.stem
        for p in (args.a / "artifacts/predictions").glob("*.csv")
        if (args.b / "artifacts/predictions" / p.name).is_file()
    )
    print(f"{'head':8s} {'test acc A':>10s} {'test acc B':>10s} {'B - A':>7s}  "
          f"{'A only':>6s} {'B only':>6s}  McNemar p")  # fmt: skip
    for head in heads:
        a = read_test_predictions(args.a / "artifacts/predictions" / f"{head}.csv")
        b = read_test_predictions(args.b / "artifacts/predictions" / f"{head}.csv")
        order = {path: i for i, path in enumerate(b.paths)}
        rows = [order[p] for p in a.paths]
        right_a, right_b = a.predicted == a.true, b.predicted[rows] == b.true[rows]
        test = mcnemar_exact(right_a, right_b)
        acc_a, acc_b = right_a.mean(), right_b.mean()
        print(f"{head:8s} {acc_a:10.3f} {acc_b:10.3f} {acc_b - acc_a:+7.3f}  "
              f"{test['a_only']:6d} {test['b_only']:6d}  {test['p_value']:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
