"""The robustness grid's sizes: feature shares of any dimension, one seeded draw of test images."""

from __future__ import annotations

import numpy as np

from pipeline.analysis.robustness_grid import TestSet, feature_count, feature_sweep, sample
from pipeline.analysis.robustness_params import FeatureNoiseParams
from pipeline.heads.registry import make_head


def _test_set(rows: int, dim: int) -> TestSet:
    rng = np.random.default_rng(0)
    labels = np.array(["a", "b"])[rng.integers(0, 2, rows)]
    vectors = rng.normal(size=(rows, dim)).astype(np.float32) + (labels == "a")[:, None]
    return TestSet(vectors, [f"/img/{i}.jpg" for i in range(rows)], [f"{i:064x}" for i in range(rows)],
                   labels, vectors.std(axis=0))  # fmt: skip


def test_feature_shares_become_counts_of_the_embeddings_own_dimensions():
    assert [feature_count(f, 2048) for f in (0.05, 0.25, 0.5, 0.9)] == [102, 512, 1024, 1843]
    assert [feature_count(f, 512) for f in (0.05, 0.9)] == [26, 461]
    assert feature_count(1e-6, 64) == 1


def test_a_512_d_backbone_runs_the_default_feature_sweep():
    test = _test_set(60, 512)
    head = make_head("logreg", C=1.0).fit(test.vectors, test.labels)
    out = feature_sweep({"logreg": head}, test, FeatureNoiseParams(), seed=0)
    assert sorted(out["logreg"]["add_constant"]) == ["128", "26", "51"]  # 5%, 10%, 25% of 512
    assert sorted(out["logreg"]["zero"]) == ["154", "307", "461"]


def test_the_image_draw_is_seeded_sorted_and_everything_when_the_split_is_small():
    test = _test_set(50, 8)
    assert sample(test, 50, seed=0) is test and sample(test, 80, seed=0) is test
    first, again, other = sample(test, 10, 0), sample(test, 10, 0), sample(test, 10, 1)
    assert first.keys == again.keys != other.keys and len(first.paths) == 10
    rows = [test.keys.index(k) for k in first.keys]
    assert rows == sorted(rows)
    np.testing.assert_array_equal(first.vectors, test.vectors[rows])
    np.testing.assert_array_equal(first.labels, test.labels[rows])
