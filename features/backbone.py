"""Backbones: a torchvision classifier cut at its global average pool, with its preprocessing."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

import torch
import torchvision
from torch import nn
from torchvision.models import get_model, get_model_builder, get_model_weights, list_models

from .constants import (
    DEFAULT_ARCH,
    DEFAULT_CROP,
    DEFAULT_RESIZE,
    DEFAULT_WEIGHTS,
    IMAGENET_MEAN,
    IMAGENET_STD,
)
from .exceptions import ConfigError, WeightsUnavailableError
from .preprocess import Preprocessing

# Families whose classifier is a single `fc` Linear after a global average pool.
_FC_FAMILIES = ("resnet", "resnext", "wide_resnet", "regnet")


@dataclass
class Backbone:
    """A feature network (images to `dim`-d vectors) and the identity of its weights."""

    model: nn.Module
    arch: str
    weights_id: str
    preprocessing: Preprocessing
    dim: int


def supported_archs() -> list[str]:
    return [name for name in list_models(module=torchvision.models) if name.startswith(_FC_FAMILIES)]


def create_backbone(
    arch: str = DEFAULT_ARCH,
    weights: str | os.PathLike = DEFAULT_WEIGHTS,
    seed: int = 0,
    resize: int | None = None,
    crop: int | None = None,
) -> Backbone:
    """Build `arch` with `weights` (enum name, checkpoint path or 'none'), cut at the pool.

    Raises WeightsUnavailableError before any image is read when pretrained weights
    can be neither found in torchvision's cache nor downloaded.
    """
    if arch not in supported_archs():
        raise ConfigError(
            f"arch: got {arch!r}; choose a torchvision model with a global-pool + fc head, "
            f"e.g. {supported_archs()[:8]} (all: torchvision.models.list_models())"
        )
    weights = str(weights)
    if weights.lower() == "none":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = get_model(arch, weights=None)
        weights_id = f"random-init(seed={seed})"
        base = _default_preprocessing()
    elif _looks_like_path(weights):
        model = get_model(arch, weights=None)
        weights_id = _load_checkpoint(model, Path(weights))
        base = _default_preprocessing()
    else:
        enum = _weights_enum(arch, weights)
        model = get_model(arch, weights=None)
        model.load_state_dict(_download_state_dict(enum))
        weights_id = f"{type(enum).__name__}.{enum.name}"
        base = _enum_preprocessing(enum)

    dim = model.fc.in_features
    model.fc = nn.Identity()  # the pooled, flattened features are the output
    model.eval()
    preprocessing = Preprocessing(
        resize=resize or base.resize,
        crop=crop or base.crop,
        mean=base.mean,
        std=base.std,
        interpolation=base.interpolation,
    )
    if preprocessing.crop > preprocessing.resize:
        raise ConfigError(f"crop ({preprocessing.crop}) must not exceed resize ({preprocessing.resize})")
    return Backbone(model, arch, weights_id, preprocessing, dim)


def _looks_like_path(weights: str) -> bool:
    return os.sep in weights or "/" in weights or weights.endswith((".pt", ".pth", ".ckpt"))


def _default_preprocessing() -> Preprocessing:
    return Preprocessing(DEFAULT_RESIZE, DEFAULT_CROP, IMAGENET_MEAN, IMAGENET_STD)


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
            "  or set weights to a local checkpoint path (backbone.weights in params.yaml, "
            "--weights on the CLI),\n"
            "  or set it to 'none' for a seeded random init (features still carry signal, "
            "but far less)."
        ) from exc


def _load_checkpoint(model: nn.Module, path: Path) -> str:
    if not path.is_file():
        raise ConfigError(f"weights: checkpoint {str(path)!r} does not exist")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for non-checkpoint files
        raise ConfigError(f"weights: cannot load checkpoint {str(path)!r}: {exc}") from exc
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise ConfigError(f"weights: {str(path)!r} holds a {type(state).__name__}, not a state dict")
    state = {key.removeprefix("module."): value for key, value in state.items()}
    # The classifier is cut off, so its shape (any number of classes) does not matter.
    state = {key: value for key, value in state.items() if not key.startswith("fc.")}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise ConfigError(
            f"weights: checkpoint {str(path)!r} does not fit the architecture: "
            f"{str(exc).splitlines()[1].strip()}"
        ) from exc
    missing = [key for key in missing if not key.startswith("fc.")]
    if missing or unexpected:
        raise ConfigError(
            f"weights: checkpoint {str(path)!r} does not fit the architecture: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    return f"checkpoint(sha256={digest})"
