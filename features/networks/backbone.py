"""What a backbone family builds: the `Backbone` (a network cut at its pooled feature, its
preprocessing, the identity of its weights) and its `Stage`s. The registry (`backbones.py`)
imports the families when named; the families import this, not the registry."""

from __future__ import annotations

import os
from dataclasses import dataclass

from torch import nn

from ..images.preprocessing import Preprocessing

TIMM_PREFIX = "timm:"


@dataclass(frozen=True)
class Stage:
    """A named run of the network's parameters, found by name prefix (`layer1.`) or full
    name (`class_token`); stages are listed input to output, so freezing "up to" one means
    every stage before it too."""

    name: str
    prefixes: tuple[str, ...]

    def holds(self, parameter_name: str) -> bool:
        return any(
            parameter_name.startswith(p) if p.endswith(".") else parameter_name == p for p in self.prefixes
        )


@dataclass
class Backbone:
    """A feature network, normalised images (N, 3, H, W) to `dim`-d vectors, and what names it."""

    model: nn.Module
    arch: str
    weights_id: str  # the weights' identity in the fingerprint: enum name, or a content hash
    preprocessing: Preprocessing
    dim: int
    stages: tuple[Stage, ...] = ()
    convolutional: bool = True  # set by create_backbone: more than one convolution
    fixed_crop: int | None = None  # the one input size a network takes (a ViT's position embeddings)

    def stage_names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    def stage_parameters(self) -> list[tuple[str, list[nn.Parameter]]]:
        """Each stage's parameters, in order; parameters no stage holds (final norms) last, as
        'neck'."""
        groups: dict[str, list[nn.Parameter]] = {stage.name: [] for stage in self.stages} | {"neck": []}
        for name, parameter in self.model.named_parameters():
            owner = next((stage.name for stage in self.stages if stage.holds(name)), "neck")
            groups[owner].append(parameter)
        return list(groups.items())

    def stage_modules(self, names: list[str]) -> list[nn.Module]:
        """The submodules inside the stages `names`: under a stage's prefix, or holding only its
        parameters (timm's stages name parameters one by one). Frozen, they stay in eval mode:
        BatchNorm keeps its statistics, dropout is off."""
        stages = [stage for stage in self.stages if stage.name in names]
        held = {name for name, _ in self.model.named_parameters() if any(s.holds(name) for s in stages)}
        out = []
        for qualified, module in self.model.named_modules():
            own = {f"{qualified}.{name}".lstrip(".") for name, _ in module.named_parameters(recurse=False)}
            under = qualified and any(stage.holds(qualified + ".") for stage in stages)
            if under or (own and own <= held):
                out.append(module)
        return out


def looks_like_path(weights: str) -> bool:
    return os.sep in weights or "/" in weights or weights.endswith((".pt", ".pth", ".ckpt", ".safetensors"))
