"""The params.yaml blocks of the data and embedding stages, with their allowed values."""

from __future__ import annotations

from dataclasses import dataclass

from features.constants import DEVICES, ENGINES, PRECISIONS

from .exceptions import ParamsError
from .params import spec

CALTECH_22 = [
    "accordion",
    "anchor",
    "ant",
    "bass",
    "beaver",
    "binocular",
    "brain",
    "brontosaurus",
    "buddha",
    "dalmatian",
    "electric_guitar",
    "inline_skate",
    "lamp",
    "octopus",
    "pagoda",
    "panda",
    "stop_sign",
    "strawberry",
    "sunflower",
    "tick",
    "wrench",
    "yin_yang",
]


# Heads `heads.enabled` may name; each is a class in pipeline/heads/<name>.py.
HEAD_NAMES = ("mlp", "glmnet", "finetune", "knn", "logreg")

# Image corruptions the robustness stage knows (pipeline/analysis/corruptions.py): ImageNet-C names.
CORRUPTIONS = ("gaussian_noise", "gaussian_blur", "jpeg_compression", "brightness", "contrast", "occlusion")


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
class NearDuplicateParams:
    """`data.near_duplicates`: copies of one picture (resized, re-encoded) found by embedding similarity."""

    threshold: float = spec(0.8, min=0.0, max=1.0)  # cosine of PCA-whitened embeddings above which two match
    components: int = spec(128, min=2)  # PCA-whitening components
    group: bool = False  # true: prepare embeds first and keeps each group of near-duplicates in one split


@dataclass(frozen=True)
class DataParams:
    """`data`: where the images are and how they are split (read by prepare)."""

    root: str
    split: SplitParams = spec(SplitParams())
    seed: int = spec(0, min=0)
    near_duplicates: NearDuplicateParams = spec(NearDuplicateParams())


@dataclass(frozen=True)
class DownloadParams:
    """`download`: which Caltech 101 classes the download stage keeps when it fetches data.root."""

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

    store: str = "~/.cache/workbench/store"
    device: str = spec("auto", choices=DEVICES)
    precision: str = spec("auto", choices=PRECISIONS)
    batch_size: int = spec(32, min=1)
    num_workers: int | None = spec(None, min=0)  # the local engine's decoder processes
    engine: str = spec("local", choices=ENGINES)
    address: str | None = None  # engine ray: a running cluster ("auto", "ray://HOST:10001"); null starts one
    actors: int | None = spec(None, min=1)  # engine ray: embedding actors; null: one per GPU or core


@dataclass(frozen=True)
class EvaluateParams:
    top_k: int = spec(5, min=1)
    ece_bins: int = spec(15, min=2)


@dataclass(frozen=True)
class CompareParams:
    resamples: int = spec(2000, min=100)
    level: float = spec(0.95, min=0.5, max=0.999)
    seed: int = spec(0, min=0)


@dataclass(frozen=True)
class CurvesParams:
    """`curves`: learning curves from the cached embeddings (and the images, for finetune)."""

    per_class: list[int] = spec(
        [1, 2, 5, 10, 20], min=1
    )  # labelled train images per class; the whole split is added
    draws: int = spec(3, min=1)  # seeded draws per size, the same for every head
    finetune: bool = False  # the fine-tuned head too: a full fine-tune per point (GPU territory)
    resamples: int = spec(1000, min=100)
    level: float = spec(0.95, min=0.5, max=0.999)
    seed: int = spec(0, min=0)


@dataclass(frozen=True)
class PCAParams:
    sizes: list[int] = spec([2, 4, 8, 16, 32, 64, 128, 256, 512], min=1)
    C: float = spec(0.1, min=1e-6)


@dataclass(frozen=True)
class FeatureNoiseParams:
    add_counts: list[int] = spec([100, 500, 1000], min=1)  # the reference added 2 to 100 features
    add_value: float = 2.0
    zero_counts: list[int] = spec([600, 1200, 1800], min=1)  # the reference zeroed 600
    gaussian_levels: list[float] = spec([0.25, 0.5, 1.0, 2.0], min=0.0)  # x each feature's train std


@dataclass(frozen=True)
class AdversarialParams:
    images: int = spec(64, min=1)  # test images attacked (a seeded, stratified-by-order subset)
    epsilons: list[float] = spec([0.001, 0.002, 0.004, 0.008, 0.016], min=0.0, max=1.0)  # pixel units
    pgd_steps: int = spec(10, min=1)  # step size 2.5 eps / steps (Madry et al.)
    pgd_epsilons: list[float] = spec([0.004], min=0.0, max=1.0)
    batch_size: int = spec(16, min=1)


@dataclass(frozen=True)
class RobustnessParams:
    seed: int = spec(0, min=0)
    feature: FeatureNoiseParams = spec(FeatureNoiseParams())
    corruptions: list[str] = spec(list(CORRUPTIONS), choices=CORRUPTIONS)
    severities: list[int] = spec([1, 3, 5], min=1, max=5)
    adversarial: AdversarialParams = spec(AdversarialParams())


@dataclass(frozen=True)
class ConfusionParams:
    top_pairs: int = spec(10, min=1)
    gallery: int = spec(24, min=1)  # misclassified / disagreement / label-issue thumbnails
    per_class: int = spec(5, min=1)  # most confident images shown per class
    label_issue_folds: int = spec(5, min=2)
    seed: int = spec(0, min=0)


def enabled_heads(heads_block: dict) -> list[str]:
    """`heads.enabled`, checked: known names, each once, at least one."""
    enabled = heads_block.get("enabled")
    if not isinstance(enabled, list) or not enabled or not all(isinstance(h, str) for h in enabled):
        raise ParamsError(
            f"heads.enabled: got {enabled!r}; give a list of head names from {sorted(HEAD_NAMES)}"
        )
    unknown = [name for name in enabled if name not in HEAD_NAMES]
    if unknown:
        raise ParamsError(f"heads: got {unknown[0]!r}; choose from {sorted(HEAD_NAMES)}")
    if len(set(enabled)) != len(enabled):
        raise ParamsError(f"heads.enabled: got {enabled}; list each head once")
    return enabled
