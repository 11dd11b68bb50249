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
    for head, r in result.heads.items():
        for kind in ("fgsm", "pgd"):
            scores = getattr(r.adversarial, kind, None)
            if scores:
                attacks.setdefault(kind.upper(), {})[head] = {
                    "0": r.adversarial.clean,
                    **{eps: s.accuracy for eps, s in scores.items()},
                }
    for name, grid, xlabel, ylabel, title in [
        ("feature", panels("feature"), "level (count, or noise / std)", "test accuracy",
         "Feature-space perturbations of the test embeddings"),
        ("image", panels("image"), "severity", "test accuracy", "Image corruptions of the test images"),
        ("adversarial", attacks, "epsilon (pixel scale 0-1)", "accuracy on attacked images",
         "White-box attacks through backbone and head"),
    ]:  # fmt: skip
        plot_line_grid(grid, reports / f"{name}.png", xlabel, ylabel, chance, title, names=names)
