"""FGSM and PGD raise the loss and stay inside the epsilon ball in pixel space."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from pipeline.analysis.adversarial import attack_accuracy, fgsm, pgd


def _model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)
    ).eval()


def test_fgsm_raises_the_loss_within_eps():
    model = _model()
    x = torch.rand(16, 3, 16, 16)
    y = model(x).argmax(1)
    adv = fgsm(model, x, y, eps=0.03)
    assert F.cross_entropy(model(adv), y) > F.cross_entropy(model(x), y)
    assert (adv - x).abs().max() <= 0.03 + 1e-6 and adv.min() >= 0 and adv.max() <= 1


def test_pgd_beats_or_matches_fgsm():
    model = _model()
    x = torch.rand(16, 3, 16, 16)
    y = model(x).argmax(1)
    fgsm_loss = F.cross_entropy(model(fgsm(model, x, y, 0.03)), y)
    adv = pgd(model, x, y, 0.03, steps=10, generator=torch.Generator().manual_seed(0))
    assert F.cross_entropy(model(adv), y) >= fgsm_loss * 0.99
    assert (adv - x).abs().max() <= 0.03 + 1e-6


def test_attack_accuracy_falls_with_eps():
    model = _model()
    x = torch.rand(32, 3, 16, 16)
    y = model(x).argmax(1)
    images = (x * 255).round().to(torch.uint8)
    scores = attack_accuracy(model, images, y, [0.01, 0.1], 3, [0.05], 8, seed=0)
    assert scores["clean"] > 0.9
    assert scores["fgsm"]["0.1"] <= scores["fgsm"]["0.01"] <= scores["clean"]
