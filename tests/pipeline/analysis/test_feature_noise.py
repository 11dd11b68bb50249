"""Feature perturbations change exactly what they say, the same way every time."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.analysis.feature_noise import perturb


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(30, 2048)).astype(np.float32) + 5


def test_zeroing_k_features_changes_exactly_k_columns(X):
    out = perturb(X, "zero", 600, X.std(0), seed=0)
    changed = np.flatnonzero((out != X).any(axis=0))
    assert len(changed) == 600 and (out[:, changed] == 0).all()


def test_adding_a_constant_to_k_features(X):
    out = perturb(X, "add_constant", 100, X.std(0), seed=0, constant=2.0)
    diff = out - X
    changed = np.flatnonzero((diff != 0).any(axis=0))
    assert len(changed) == 100
    np.testing.assert_allclose(diff[:, changed], 2.0, rtol=1e-5)


def test_indices_are_drawn_over_all_dimensions(X):
    seen = set()
    for seed in range(20):
        out = perturb(X, "zero", 100, X.std(0), seed=seed)
        seen |= set(np.flatnonzero((out != X).any(axis=0)))
    assert max(seen) > 1900 and min(seen) < 100


def test_gaussian_noise_scales_with_each_feature_spread(X):
    spread = np.linspace(0.1, 2.0, X.shape[1]).astype(np.float32)
    out = perturb(np.zeros((5000, 2048), np.float32), "gaussian", 0.5, spread, seed=1)
    np.testing.assert_allclose(out.std(axis=0)[[0, -1]], [0.05, 1.0], rtol=0.1)


def test_seeded_and_independent_of_call_order(X):
    a = perturb(X, "zero", 50, X.std(0), seed=3)
    perturb(X, "gaussian", 1.0, X.std(0), seed=3)  # another draw in between changes nothing
    b = perturb(X, "zero", 50, X.std(0), seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, perturb(X, "zero", 50, X.std(0), seed=4))
