"""The `data` params block: where the images are and how they are split."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import param


@dataclass(frozen=True)
class SplitParams:
    train: float = param(0.6, min=0.0, max=1.0)
    valid: float = param(0.2, min=0.0, max=1.0)
    test: float = param(0.2, min=0.0, max=1.0)

    def __post_init__(self) -> None:
        total = self.train + self.valid + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1, got {total:g}")
        if self.train == 0 or self.test == 0:
            raise ValueError("split.train and split.test must be above 0")


@dataclass(frozen=True)
class NearDuplicateParams:
    """`data.near_duplicates`: copies of one picture (resized, re-encoded) found by embedding similarity."""

    threshold: float = param(0.8, min=0.0, max=1.0)  # cosine of PCA-whitened embeddings above which two match
    components: int = param(128, min=2)  # PCA-whitening components
    group: bool = False  # true: prepare embeds first and keeps each group of near-duplicates in one split


@dataclass(frozen=True)
class DataParams:
    """`data`: where the images are and how they are split (read by prepare)."""

    root: str
    split: SplitParams = param(SplitParams())
    seed: int = param(0, min=0)
    near_duplicates: NearDuplicateParams = param(NearDuplicateParams())
