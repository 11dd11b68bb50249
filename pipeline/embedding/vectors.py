"""Vectors into the store for a stage: the extractor the params describe, run by the engine they name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from features.engines.registry import extract_with
from features.extraction.report import ExtractionReport
from features.networks.extractor import Extractor
from features.networks.int8 import Calibration
from features.store.base import MissingVectors, Store

from ..exceptions import UndecodableImages
from .params import BackboneParams, EmbedParams

log = logging.getLogger(__name__)
T = TypeVar("T")


def make_extractor(
    backbone: BackboneParams, embed: EmbedParams, store: Store, calibration: dict | None = None
) -> Extractor:
    """The extractor the params describe (int8: calibrated on `calibration`, as embed chose it);
    fails before any image is read if weights are missing."""
    return backbone.extractor_config(embed, calibration).create(embed.device, store.exports())


def store_vectors(
    backbone: BackboneParams,
    embed: EmbedParams,
    store: Store,
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
        backbone.extractor_config(embed, calibration),
        embed.engine_settings(),
        keys=keys,
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
        raise UndecodableImages(stage, [(f.path, f.reason) for f in report.failures])
    return extractor, report


def read_stored(
    backbone: BackboneParams,
    embed: EmbedParams,
    store: Store,
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
