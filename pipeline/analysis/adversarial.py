"""Gradient attacks in pixel space: FGSM and PGD, through the whole model, L-inf bounded."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from features.runtime import autocast


def _loss_and_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor, precision: str):
    x = x.detach().requires_grad_(True)
    with autocast(x.device, precision):
        loss = F.cross_entropy(model(x).float(), y)
    (grad,) = torch.autograd.grad(loss, x)
    return loss.detach(), grad


@torch.no_grad()
def _correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, precision: str) -> int:
    with autocast(x.device, precision):
        return int((model(x).argmax(1) == y).sum())


def fgsm(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, precision: str = "fp32"
) -> torch.Tensor:
    """x + eps * sign(grad of the loss), clipped to valid pixels; x in [0, 1]."""
    _, grad = _loss_and_grad(model, x, y, precision)
    return (x + eps * grad.sign()).clamp(0, 1).detach()


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    steps: int,
    generator: torch.Generator,
    precision: str = "fp32",
) -> torch.Tensor:
    """Projected gradient descent from a random start in the eps-ball (Madry et al.)."""
    alpha = 2.5 * eps / steps
    start = (torch.rand(x.shape, generator=generator) * 2 - 1).to(x.device) * eps
    adv = (x + start).clamp(0, 1)
    for _ in range(steps):
        _, grad = _loss_and_grad(model, adv, y, precision)
        adv = adv + alpha * grad.sign()
        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1).detach()
    return adv


def attack_accuracy(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epsilons: list[float],
    pgd_steps: int,
    pgd_epsilons: list[float],
    batch_size: int,
    seed: int,
    precision: str = "fp32",
) -> dict:
    """Accuracy on clean, FGSM and PGD inputs; `images` are uint8 (N, 3, H, W) on the model's device.

    FGSM's direction does not depend on eps, so one gradient per batch serves every eps.
    """
    generator = torch.Generator().manual_seed(seed)
    clean = 0
    fgsm_right = dict.fromkeys(epsilons, 0)
    pgd_right = dict.fromkeys(pgd_epsilons, 0)
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].float() / 255.0
        y = labels[start : start + batch_size]
        clean += _correct(model, x, y, precision)
        _, grad = _loss_and_grad(model, x, y, precision)
        for eps in epsilons:
            fgsm_right[eps] += _correct(model, (x + eps * grad.sign()).clamp(0, 1), y, precision)
        for eps in pgd_epsilons:
            adv = pgd(model, x, y, eps, pgd_steps, generator, precision)
            pgd_right[eps] += _correct(model, adv, y, precision)
    n = len(images)
    return {
        "clean": clean / n,
        "fgsm": {f"{eps:.5g}": right / n for eps, right in fgsm_right.items()},
        "pgd": {f"{eps:.5g}": right / n for eps, right in pgd_right.items()},
    }
