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
