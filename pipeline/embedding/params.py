"""The `backbone` and `embed` params blocks: the network that makes the vectors, and how it runs."""

from __future__ import annotations

from dataclasses import dataclass

from features.constants import CALIBRATION_IMAGES, DEVICES, ENGINES, PRECISIONS, RUNTIMES
from features.engines.ray_options import RayOptions
from features.engines.settings import EngineSettings
from features.networks.extractor import ExtractorConfig
from features.networks.int8 import Calibration

from ..params import param


@dataclass(frozen=True)
class BackboneParams:
    """`backbone`: the network that makes the features (read by embed and the analyses)."""

    arch: str = "resnet50"
    weights: str = "IMAGENET1K_V2"
    seed: int = param(0, min=0)
    resize: int | None = param(None, min=16)
    crop: int | None = param(None, min=16)

    def extractor_config(
        self, embed: EmbedParams, calibration: Calibration | dict | None = None
    ) -> ExtractorConfig:
        """The extractor these params and `embed`'s describe (int8: calibrated on `calibration`)."""
        return ExtractorConfig(
            self.arch,
            self.weights,
            self.seed,
            self.resize,
            self.crop,
            embed.precision,
            embed.runtime,
            calibration,
        )


@dataclass(frozen=True)
class EmbedParams:
    """`embed`: where vectors are kept and how they are computed."""

    store: str = "~/.cache/workbench/store"
    device: str = param("auto", choices=DEVICES)
    precision: str = param("auto", choices=PRECISIONS)
    runtime: str = param("auto", choices=RUNTIMES)  # auto: torch on a GPU, the fastest installed CPU runtime
    batch_size: int = param(32, min=1)
    num_workers: int | None = param(None, min=0)  # the local engine's decoder processes
    engine: str = param("local", choices=ENGINES)
    address: str | None = None  # engine ray: a running cluster ("auto", "ray://HOST:10001"); null starts one
    actors: int | None = param(None, min=1)  # engine ray: embedding actors; null: one per GPU or core
    calibration: int = param(CALIBRATION_IMAGES, min=1)  # precision int8: train images measured

    def engine_settings(self) -> EngineSettings:
        return EngineSettings(
            self.device, self.batch_size, self.num_workers, RayOptions(self.address, self.actors)
        )
