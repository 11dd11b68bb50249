"""Vectors into the store for a stage: the extractor the params describe, run by the engine they name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from features import ExtractionReport, Extractor, FeatureStore, create_extractor
from features.engines import extract_with
from features.networks.int8 import Calibration
from features.ray_engine import RayOptions
from features.store import MissingVectors

from ..exceptions import DataError
from .params import BackboneParams, EmbedParams

log = logging.getLogger(__name__)
T = TypeVar("T")


def make_extractor(
    backbone: BackboneParams, embed: EmbedParams, store: FeatureStore, calibration: dict | None = None
) -> Extractor:
    """The extractor the params describe (int8: calibrated on `calibration`, as embed chose it);
    fails before any image is read if weights are missing."""
    return create_extractor(
        device=embed.device,
        precision=embed.precision,
        runtime=embed.runtime,
        exports=store.exports(),
        **create_args(backbone, calibration),
    )


def create_args(backbone: BackboneParams, calibration: Calibration | dict | None) -> dict:
    """`create_extractor`'s network arguments: the backbone's, and int8's calibration images."""
    args = backbone.create_args()
    return args if calibration is None else {**args, "calibration": calibration}


def store_vectors(
    backbone: BackboneParams,
    embed: EmbedParams,
    store: FeatureStore,
    paths: list[str],
    keys: list[str],
    stage: str,
    calibration: Calibration | None = None,
) -> tuple[Extractor, ExtractionReport]:
    """Make sure `store` holds every image's vector, computing what it lacks with `embed.engine`;
    read them with `store.get(extractor.fingerprint, keys)`. int8 needs `calibration`.

    An image that cannot be decoded stops the stage with the list: it changed since it was scanned.
    """
    extractor, report = extract_with(
        embed.engine,
        paths,
        store,
        create_args(backbone, calibration),
        device=embed.device,
        precision=embed.precision,
        runtime=embed.runtime,
        keys=keys,
        batch_size=embed.batch_size,
        num_workers=embed.num_workers,
        ray=RayOptions(embed.address, embed.actors),
        announce=lambda extractor, where: log.info(
            "%s: extractor %s (%s, %s %s %s)",
            stage,
            extractor.fingerprint,
            extractor.backbone.weights_id,
            extractor.runtime,
            extractor.precision,
            where,
        ),  # fmt: skip
    )
    if report.failures:
        listing = "\n".join(f"  {f.path}: {f.reason}" for f in report.failures)
        raise DataError(
            f"{stage}: {len(report.failures)} images could not be decoded:\n{listing}\n"
            "They changed after the scan; run `dvc repro prepare` to exclude them."
        )
    return extractor, report


def read_stored(
    backbone: BackboneParams,
    embed: EmbedParams,
    store: FeatureStore,
    paths: list[str],
    keys: list[str],
    stage: str,
    read: Callable[[Extractor], T],
    calibration: Calibration | None = None,
) -> tuple[Extractor, ExtractionReport, T]:
    """`store_vectors`, then `read(extractor)` (which reads the vectors from `store`). Vectors
    found damaged while reading (their segment quarantined) are computed again, once."""
    extractor, report = store_vectors(backbone, embed, store, paths, keys, stage, calibration)
    try:
        return extractor, report, read(extractor)
    except MissingVectors as exc:
        log.warning("%s: %s; computing them again", stage, exc)
        extractor, report = store_vectors(backbone, embed, store, paths, keys, stage, calibration)
        return extractor, report, read(extractor)
