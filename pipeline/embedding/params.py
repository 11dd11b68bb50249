"""The `backbone` and `embed` params blocks: the network that makes the vectors, and how it runs."""

from __future__ import annotations

from dataclasses import dataclass

from features.constants import DEVICES, ENGINES, PRECISIONS, RUNTIMES

from ..params import param


@dataclass(frozen=True)
class BackboneParams:
    """`backbone`: the network that makes the features (read by embed and the analyses)."""

    arch: str = "resnet50"
    weights: str = "IMAGENET1K_V2"
    seed: int = param(0, min=0)
    resize: int | None = param(None, min=16)
    crop: int | None = param(None, min=16)

    def create_args(self) -> dict:
        """The `create_extractor` arguments these params give (device and precision aside)."""
        return dict(arch=self.arch, weights=self.weights, seed=self.seed, resize=self.resize, crop=self.crop)


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
    calibration: int = param(128, min=1)  # precision int8: train images its ranges are measured on
