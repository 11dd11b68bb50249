"""Feature-space perturbations of embeddings, seeded so every head sees the same matrix."""

from __future__ import annotations

import zlib

import numpy as np


def add_constant(X: np.ndarray, k: int, value: float, rng: np.random.Generator) -> np.ndarray:
    """Add `value` to `k` feature indices drawn over all dimensions, the same for every row."""
    out = X.copy()
    out[:, rng.choice(X.shape[1], size=k, replace=False)] += value
    return out


def zero_features(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Set `k` feature indices drawn over all dimensions to 0 in every row."""
    out = X.copy()
    out[:, rng.choice(X.shape[1], size=k, replace=False)] = 0.0
    return out


def gaussian_noise(X: np.ndarray, level: float, spread: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add N(0, (level * spread_j)^2) to feature j; `spread` is each feature's train std."""
    return X + rng.normal(size=X.shape).astype(X.dtype) * (level * spread)


def perturb(
    X: np.ndarray, kind: str, level: float, spread: np.ndarray, seed: int, constant: float = 2.0
) -> np.ndarray:
    """One named perturbation at one level; its randomness depends on (seed, kind, level) only,
    so every head is scored on the same perturbed matrix."""
    rng = np.random.default_rng([seed, zlib.crc32(kind.encode()), round(level * 1000)])
    if kind == "add_constant":
        return add_constant(X, int(level), constant, rng)
    if kind == "zero":
        return zero_features(X, int(level), rng)
    if kind == "gaussian":
        return gaussian_noise(X, level, spread, rng)
    raise ValueError(f"feature perturbation: got {kind!r}; choose from ['add_constant', 'zero', 'gaussian']")
