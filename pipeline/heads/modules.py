"""Small torch modules the heads build their differentiable forms from."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Affine(nn.Module):
    """x * scale + shift, per feature (standardisation inside a differentiable head)."""

    def __init__(self, scale, shift):
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


def pixel_normalizer(prep) -> Affine:
    """[0, 1] pixels to the network's normalised input, as a layer gradients flow through."""
    mean = torch.tensor(prep.mean).view(1, 3, 1, 1)
    std = torch.tensor(prep.std).view(1, 3, 1, 1)
    return Affine(1 / std, -mean / std)


def linear_module(coef: np.ndarray, intercept: np.ndarray) -> nn.Linear:
    """A frozen torch Linear computing X @ coef.T + intercept."""
    layer = nn.Linear(coef.shape[1], coef.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(coef, dtype=torch.float32))
        layer.bias.copy_(torch.as_tensor(intercept, dtype=torch.float32))
    return layer.eval().requires_grad_(False)


class SoftmaxOfLogits(nn.Module):
    """Class probabilities from logits; a single logit of a two-class head (scikit-learn's binary
    form) is the second class's, against 0 for the first."""

    def __init__(self, classes: int):
        super().__init__()
        self.classes = classes

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        if logits.shape[1] == 1 and self.classes == 2:
            logits = torch.cat([torch.zeros_like(logits), logits], dim=1)
        return torch.softmax(logits, dim=1)


class NeighbourVote(nn.Module):
    """k-NN class probabilities with the train vectors as constants, as the k-NN head computes
    them: cosine similarity to every train row, the k most similar (TopK), each voting for its
    class uniformly or by 1 / distance between unit vectors, where a neighbour at distance 0
    takes all the weight (shared among such matches)."""

    # Distances between unit vectors below this count as 0: float32 leaves about 3e-4 between an
    # image and itself, where the head's float64 search finds 0.
    SAME = 1e-3

    def __init__(self, train: np.ndarray, codes: np.ndarray, classes: int, k: int, weights: str):
        super().__init__()
        unit = train / np.maximum(np.linalg.norm(train, axis=1, keepdims=True), 1e-12)
        self.register_buffer("train_rows", torch.as_tensor(unit, dtype=torch.float32))
        self.register_buffer("codes", torch.as_tensor(codes, dtype=torch.int64))
        self.classes, self.k, self.uniform = classes, k, weights == "uniform"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        unit = x / torch.clamp(torch.linalg.vector_norm(x, dim=1, keepdim=True), min=1e-12)
        similarity, rows = torch.topk(unit @ self.train_rows.T, self.k, dim=1)
        distance = torch.sqrt(torch.clamp(2.0 - 2.0 * similarity, min=0.0))
        if self.uniform:
            weight = torch.ones_like(distance)
        else:
            same = (distance < self.SAME).float()
            any_same = same.amax(dim=1, keepdim=True)
            weight = any_same * same + (1 - any_same) / torch.clamp(distance, min=self.SAME)
        votes = torch.zeros(x.shape[0], self.classes, dtype=weight.dtype, device=x.device)
        votes = votes.scatter_add(1, self.codes[rows], weight)
        return votes / votes.sum(dim=1, keepdim=True)
