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
    scores = attack_accuracy(model, images, y, [0.01, 0.1], 10, [0.05], 8, seed=0)
    assert scores["clean"] > 0.9
    fgsm_scores = scores["fgsm"]
    assert fgsm_scores["0.1"]["accuracy"] <= fgsm_scores["0.01"]["accuracy"] <= scores["clean"]
    assert fgsm_scores["0.01"]["success_rate"] <= fgsm_scores["0.1"]["success_rate"]


def test_success_rate_counts_only_images_right_before_the_attack():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 4)).eval()  # varied answers, easy to move
    x = torch.rand(20, 3, 16, 16)
    predicted = model(x).argmax(1)
    y = predicted.clone()
    y[:10] = (predicted[:10] + 1) % 4  # half wrong before any attack
    images = (x * 255).round().to(torch.uint8)
    predicted = model(images.float() / 255).argmax(1)  # what the model says on the rounded pixels
    scores = attack_accuracy(model, images, y, [0.0], 10, [0.3], 20, seed=0)
    right = predicted == y
    assert scores["clean"] == right.float().mean().item()
    # eps 0 changes nothing: no success. A huge PGD ball turns wrong every image it can.
    assert scores["fgsm"]["0"] == {"accuracy": scores["clean"], "success_rate": 0.0}
    pgd = scores["pgd"]["0.3"]
    assert pgd["success_rate"] == (1 - pgd["accuracy"] / scores["clean"])  # only right ones can flip
    assert pgd["success_rate"] > 0.5
