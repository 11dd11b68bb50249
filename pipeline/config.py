"""The params.yaml blocks of the data and embedding stages, with their allowed values."""

from __future__ import annotations

from dataclasses import dataclass

from features.constants import DEVICES, PRECISIONS

from .params import spec

CALTECH_22 = [
    "accordion", "anchor", "ant", "bass", "beaver", "binocular", "brain", "brontosaurus",
    "buddha", "dalmatian", "electric_guitar", "inline_skate", "lamp", "octopus", "pagoda",
    "panda", "stop_sign", "strawberry", "sunflower", "tick", "wrench", "yin_yang",
]  # fmt: skip


@dataclass(frozen=True)
class SplitParams:
    train: float = spec(0.6, min=0.0, max=1.0)
    valid: float = spec(0.2, min=0.0, max=1.0)
    test: float = spec(0.2, min=0.0, max=1.0)

    def __post_init__(self) -> None:
        total = self.train + self.valid + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1, got {total:g}")
        if self.train == 0 or self.test == 0:
            raise ValueError("split.train and split.test must be above 0")


@dataclass(frozen=True)
class DataParams:
    """`data`: where the images are and how they are split (read by prepare)."""

    root: str
    split: SplitParams = spec(SplitParams())
    seed: int = spec(0, min=0)


@dataclass(frozen=True)
class DownloadParams:
    """`download`: which Caltech 101 classes `python -m pipeline download` keeps."""

    classes: list[str] = spec(CALTECH_22)


@dataclass(frozen=True)
class BackboneParams:
    """`backbone`: the network that makes the features (read by embed and the analyses)."""

    arch: str = "resnet50"
    weights: str = "IMAGENET1K_V2"
    seed: int = spec(0, min=0)
    resize: int | None = spec(None, min=16)
    crop: int | None = spec(None, min=16)


@dataclass(frozen=True)
class EmbedParams:
    """`embed`: where vectors are kept and how they are computed."""

    store: str = "~/.cache/workbench/features.h5"
    device: str = spec("auto", choices=DEVICES)
    precision: str = spec("auto", choices=PRECISIONS)
    batch_size: int = spec(32, min=1)
    num_workers: int | None = spec(None, min=0)


@dataclass(frozen=True)
class EvaluateParams:
    top_k: int = spec(5, min=1)
    ece_bins: int = spec(15, min=2)


@dataclass(frozen=True)
class CompareParams:
    resamples: int = spec(2000, min=100)
    level: float = spec(0.95, min=0.5, max=0.999)
    seed: int = spec(0, min=0)
