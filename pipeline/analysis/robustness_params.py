"""The `robustness` params block: its own module, so the stage and the analysis both import it
(neither imports the other) and editing it re-runs the robustness stage alone."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import param
from .corruptions import CORRUPTIONS


@dataclass(frozen=True)
class FeatureNoiseParams:
    # shares of the embedding's dimensions, so any backbone runs with them (at 2048-d: 102, 512,
    # 1024 features; the reference added 2 to 100 of 2048, and zeroed 600)
    add_fractions: list[float] = param([0.05, 0.1, 0.25], gt=0.0, max=1.0)
    add_value: float = 2.0
    zero_fractions: list[float] = param([0.3, 0.6, 0.9], gt=0.0, max=1.0)
    gaussian_levels: list[float] = param([0.5, 1.0, 2.0, 4.0], min=0.0)  # x each feature's train std


@dataclass(frozen=True)
class AdversarialParams:
    images: int = param(64, min=1)  # test images attacked (a seeded draw of the test rows)
    epsilons: list[float] = param([0.001, 0.002, 0.004, 0.008, 0.016], min=0.0, max=1.0)  # pixel units
    pgd_steps: int = param(10, min=1)  # step size 2.5 eps / steps (Madry et al.)
    pgd_epsilons: list[float] = param([0.004], min=0.0, max=1.0)
    batch_size: int = param(16, min=1)


@dataclass(frozen=True)
class RobustnessParams:
    seed: int = param(0, min=0)
    # test images perturbed and attacked: a seeded draw, the same for every head and perturbation
    # (all of them when the split is smaller). Feature noise is drawn on them too: it is cheap
    # for most heads, but k-NN's ten cells on 20,000 test rows were 3 minutes at 100,000 images.
    images: int = param(2000, min=1)
    feature: FeatureNoiseParams = param(FeatureNoiseParams())
    corruptions: list[str] = param(list(CORRUPTIONS), choices=CORRUPTIONS)
    severities: list[int] = param([1, 3, 5], min=1, max=5)
    adversarial: AdversarialParams = param(AdversarialParams())
