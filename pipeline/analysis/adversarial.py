"""Gradient attacks in pixel space: FGSM and PGD, through the whole model, L-inf bounded."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from features.networks.runtimes import autocast


def _loss_and_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor, precision: str):
    x = x.detach().requires_grad_(True)
    with autocast(x.device, precision):
        loss = F.cross_entropy(model(x).float(), y)
    (grad,) = torch.autograd.grad(loss, x)
    return loss.detach(), grad


@torch.no_grad()
def _correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor, precision: str) -> torch.Tensor:
    """Which rows the model gets right, as a bool tensor on the CPU."""
    with autocast(x.device, precision):
        return (model(x).argmax(1) == y).cpu()


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
    """Projected gradient descent from a random start in the eps-ball (Madry et al., 2018).

    Step size 2.5 * eps / steps, Madry et al.'s rule: enough to cross the ball and back.
    """
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
    """Clean accuracy, then per attack and eps its accuracy and success rate (the share of the
    images right before the attack that it turns wrong); `images` are uint8 (N, 3, H, W).

    FGSM's direction does not depend on eps, so one gradient per batch serves every eps.
    """
    generator = torch.Generator().manual_seed(seed)
    clean, fgsm_right, pgd_right = [], {e: [] for e in epsilons}, {e: [] for e in pgd_epsilons}
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].float() / 255.0
        y = labels[start : start + batch_size]
        clean.append(_correct(model, x, y, precision))
        _, grad = _loss_and_grad(model, x, y, precision)
        for eps in epsilons:
            fgsm_right[eps].append(_correct(model, (x + eps * grad.sign()).clamp(0, 1), y, precision))
        for eps in pgd_epsilons:
            adv = pgd(model, x, y, eps, pgd_steps, generator, precision)
            pgd_right[eps].append(_correct(model, adv, y, precision))
    was_right = torch.cat(clean)

    def scores(right: list[torch.Tensor]) -> dict:
        right = torch.cat(right)
        flipped = int((was_right & ~right).sum())
        n_right = int(was_right.sum())
        return {
            "accuracy": float(right.float().mean()),
            "success_rate": flipped / n_right if n_right else None,
        }

    return {
        "clean": float(was_right.float().mean()),
        "fgsm": {f"{eps:.5g}": scores(right) for eps, right in fgsm_right.items()},
        "pgd": {f"{eps:.5g}": scores(right) for eps, right in pgd_right.items()},
    }
