"""Robustness figures: accuracy against perturbation strength, one colour per head throughout."""

from __future__ import annotations

from pathlib import Path

from ..analysis.robustness import RobustnessResult
from .plots import plot_line_grid


def plot_robustness(result: RobustnessResult, reports: Path, chance: float) -> None:
    reports.mkdir(parents=True, exist_ok=True)
    names = list(result.heads)

    def panels(section: str) -> dict:
        out: dict[str, dict] = {}
        for head, r in result.heads.items():
            for kind, levels in getattr(r, section).items():
                out.setdefault(kind, {})[head] = {level: s.accuracy for level, s in levels.items()}
        return out

    attacks: dict[str, dict] = {}
    success: dict[str, dict] = {}
    for head, r in result.heads.items():
        if r.adversarial is None:
            continue
        for kind in ("fgsm", "pgd"):
            name = "FGSM" if kind == "fgsm" else f"PGD, {r.adversarial.pgd_steps} steps"
            scores = getattr(r.adversarial, kind)
            attacks.setdefault(name, {})[head] = {"0": r.adversarial.clean} | {
                eps: s.accuracy for eps, s in scores.items()
            }
            success.setdefault(name, {})[head] = {
                eps: s.success_rate for eps, s in scores.items() if s.success_rate is not None
            }
    for name, grid, xlabel, ylabel, title, baseline in [
        ("feature", panels("feature"), "level (count, or noise / std)", "test accuracy",
         "Feature-space perturbations of the test embeddings", chance),
        ("image", panels("image"), "severity", "test accuracy",
         "Image corruptions of the test images (ImageNet-C constants)", chance),
        ("adversarial", attacks, "epsilon (pixel scale 0-1)", "accuracy on attacked images",
         "White-box attacks through backbone and head", chance),
        ("adversarial_success", success, "epsilon (pixel scale 0-1)", "attack success rate",
         "Of the images each head got right, the share the attack turns wrong", None),
    ]:  # fmt: skip
        plot_line_grid(grid, reports / f"{name}.png", xlabel, ylabel, baseline, title, names=names)
