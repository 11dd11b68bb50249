"""Robustness results: each head's accuracy under feature noise, image corruptions and attacks."""

from __future__ import annotations

from dataclasses import dataclass

from .results import Result


@dataclass
class PerturbationScore(Result):
    accuracy: float
    drop: float  # clean accuracy minus this one

    @classmethod
    def against(cls, accuracy: float, clean: float) -> PerturbationScore:
        return cls(accuracy, clean - accuracy)


@dataclass
class AttackScore(Result):
    accuracy: float
    drop: float  # clean accuracy on the attacked images minus this one
    success_rate: float | None  # of the images right before the attack, the share it turns wrong

    @classmethod
    def against(cls, score: dict, clean: float) -> AttackScore:
        return cls(score["accuracy"], clean - score["accuracy"], score["success_rate"])


@dataclass
class Attacks(Result):
    images: int  # test images attacked
    clean: float  # accuracy on those images before the attack
    pgd_steps: int
    fgsm: dict[str, AttackScore]  # epsilon -> score
    pgd: dict[str, AttackScore]


@dataclass
class HeadRobustness(Result):
    clean: float
    feature: dict[str, dict[str, PerturbationScore]]  # kind -> level -> score
    image: dict[str, dict[str, PerturbationScore]]  # corruption -> severity -> score
    adversarial: Attacks | None  # None: the head has no differentiable form

    def to_json(self) -> dict:
        return {**super().to_json(), "adversarial": self.adversarial.to_json() if self.adversarial else {}}

    @classmethod
    def from_json(cls, data: dict) -> HeadRobustness:
        return super().from_json({**data, "adversarial": data["adversarial"] or None})


@dataclass
class RobustnessResult(Result):
    n_test: int
    seed: int
    heads: dict[str, HeadRobustness]
    notes: list[str]
    perturbed: int | None = None  # test images perturbed and attacked (robustness.images)


def scored(grid: dict[str, dict[str, float]], clean: float) -> dict[str, dict[str, PerturbationScore]]:
    """kind -> level -> accuracy, each beside its drop from `clean`."""
    return {
        kind: {level: PerturbationScore.against(v, clean) for level, v in levels.items()}
        for kind, levels in grid.items()
    }
