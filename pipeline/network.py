"""The feature extractor the params describe, and pixels -> backbone -> head as one torch module."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from features import ExtractionReport, Extractor, FeatureStore, Preprocessing, create_extractor
from features.engines import extract_with
from features.ray_engine import RayOptions

from .config import BackboneParams, EmbedParams
from .exceptions import DataError

if TYPE_CHECKING:  # heads import this module; the stages that only embed need no head code
    from .heads.base import Head


def make_extractor(backbone: BackboneParams, embed: EmbedParams) -> Extractor:
    """The extractor the params describe; fails before any image is read if weights are missing."""
    return create_extractor(device=embed.device, precision=embed.precision, **_create_args(backbone))


def _create_args(backbone: BackboneParams) -> dict:
    return dict(
        arch=backbone.arch,
        weights=backbone.weights,
        seed=backbone.seed,
        resize=backbone.resize,
        crop=backbone.crop,
    )


def store_vectors(
    backbone: BackboneParams,
    embed: EmbedParams,
    store: FeatureStore,
    paths: list[str],
    keys: list[str],
    stage: str,
) -> tuple[Extractor, ExtractionReport]:
    """Make sure `store` holds every image's vector, computing what it lacks with `embed.engine`;
    read them with `store.get(extractor.fingerprint, keys)`.

    An image that cannot be decoded stops the stage with the list: it changed since it was scanned.
    """
    extractor, report = extract_with(
        embed.engine,
        paths,
        store,
        _create_args(backbone),
        device=embed.device,
        precision=embed.precision,
        keys=keys,
        batch_size=embed.batch_size,
        num_workers=embed.num_workers,
        ray=RayOptions(embed.address, embed.actors),
        announce=lambda extractor, where: print(
            f"{stage}: extractor {extractor.fingerprint} ({extractor.backbone.weights_id}, "
            f"{extractor.precision} {where})"
        ),
    )
    if report.failures:
        listing = "\n".join(f"  {f.path}: {f.reason}" for f in report.failures)
        raise DataError(
            f"{stage}: {len(report.failures)} images could not be decoded:\n{listing}\n"
            "They changed after the scan; run `dvc repro prepare` to exclude them."
        )
    return extractor, report


def pixel_model(head: Head, extractor: Extractor) -> tuple[nn.Module, Preprocessing] | None:
    """[0, 1] pixels to `head`'s logits, frozen, and the preprocessing that sizes its inputs.

    None for a head without a differentiable form. Embedding heads sit on the extractor's
    network with its normalisation in front; image heads carry their own network.
    """
    module = head.differentiable()
    if module is None:
        return None
    if head.input_kind == "images":
        return module.to(extractor.device).requires_grad_(False), head.preprocessing_
    prep = extractor.backbone.preprocessing
    model = nn.Sequential(pixel_normalizer(prep), extractor.model, module)
    return model.to(extractor.device).eval().requires_grad_(False), prep  # gradients for inputs only


class Affine(nn.Module):
    """x * scale + shift, per feature (standardisation inside a differentiable head)."""

    def __init__(self, scale, shift):
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


def pixel_normalizer(prep) -> Affine:
    """[0, 1] pixels to the network's normalised input, as a layer gradients flow through."""
    mean = torch.tensor(prep.mean).view(1, 3, 1, 1)
    std = torch.tensor(prep.std).view(1, 3, 1, 1)
    return Affine(1 / std, -mean / std)
