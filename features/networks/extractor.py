"""An Extractor: a backbone on a device at a precision, run by a runtime, with its store fingerprint."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from ..constants import DEFAULT_ARCH, DEFAULT_WEIGHTS, LAYER, SCHEMA_VERSION
from ..exceptions import ConfigError
from .backbones import Backbone, create_backbone
from .int8 import Calibration, probe_images, quantized_model
from .onnx_export import DEFAULT_EXPORTS, Network, check_against_torch, exported_model, open_network, version
from .runtimes import autocast, check_runs_here, resolve_runtime


@dataclass(frozen=True)
class ExtractorConfig:
    """What builds an extractor, as one value: the network (arch, weights, seed, sizes), the
    precision and runtime it runs at, and int8's calibration images. The CLI's flags, the
    `backbone` and `embed` params and a built extractor (`Extractor.config`, with precision,
    runtime and sizes resolved: what rebuilds it in another process, a Ray actor's included)
    are each one of these. The device is not in it: each process resolves its own."""

    arch: str = DEFAULT_ARCH
    weights: str = DEFAULT_WEIGHTS
    seed: int = 0
    resize: int | None = None
    crop: int | None = None
    precision: str = "auto"
    runtime: str = "torch"
    calibration: Calibration | dict | None = None  # precision int8 only

    def create(self, device: str = "auto", exports: str | os.PathLike | None = None, **options) -> Extractor:
        """The extractor on `device`; `options` go to `create_extractor` (open_runtime)."""
        args = {f.name: getattr(self, f.name) for f in fields(self)}
        return create_extractor(device=device, exports=exports, **args, **options)

    def recipe(self) -> dict:
        """As JSON stores it (embeddings.h5, head.json): `ExtractorConfig(**recipe)` again."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "calibration"}
        if self.calibration is not None:
            out["calibration"] = Calibration.of(self.calibration).as_recipe()
        return out


@dataclass
class Extractor:
    """Turns batches of uint8 images (N, 3, H, W) into float32 vectors (N, dim)."""

    backbone: Backbone
    device: torch.device
    precision: str  # resolved: 'fp32', 'bf16' or 'int8'
    config: ExtractorConfig | None = None  # what rebuilds it elsewhere; None when built by hand
    runtime: str = "torch"  # as the recipe names it; a CPU runtime's `network` is a session of it
    network: Network | None = None
    calibration: Calibration | None = None  # int8: the images its ranges were measured on
    release: str = ""  # a CPU runtime and its version ("onnxruntime 1.32.0"), as the spec records it

    @property
    def spec(self) -> dict:
        """Everything that determines the vectors; its hash is the store fingerprint. A CPU
        runtime and its version are in it (their vectors differ from torch's in the last
        digits); torch's own vectors keep the spec they always had. int8 adds its calibration
        images' keys: other images, other ranges, other vectors."""
        spec = {
            "schema": SCHEMA_VERSION,
            "arch": self.backbone.arch,
            "weights": self.backbone.weights_id,
            "layer": LAYER,
            "preprocessing": self.backbone.preprocessing.as_dict(),
            "precision": self.precision,
            "dim": self.backbone.dim,
        }
        if self.runtime != "torch":
            spec["runtime"] = self.release
        if self.calibration is not None:
            spec["calibration"] = self.calibration.spec()
        return spec

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.spec)

    @property
    def dim(self) -> int:
        return self.backbone.dim

    def __post_init__(self) -> None:
        model = self.backbone.model.to(self.device).eval()
        # channels_last lets oneDNN / cuDNN pick their fastest convolution kernels.
        self.model = model.to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> np.ndarray:
        """Embed a uint8 batch; normalisation happens here so workers ship 4x fewer bytes."""
        x = self.backbone.preprocessing.normalize(images.to(self.device, non_blocking=True))
        if self.network is not None:
            return self.network(x.contiguous().numpy())
        x = x.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, self.precision):
            out = self.model(x)
        return out.float().cpu().numpy()


def fingerprint_of(spec: dict) -> str:
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def create_extractor(
    arch: str = DEFAULT_ARCH,
    weights: str | os.PathLike = DEFAULT_WEIGHTS,
    device: str = "auto",
    precision: str = "auto",
    seed: int = 0,
    resize: int | None = None,
    crop: int | None = None,
    runtime: str = "torch",
    exports: str | os.PathLike | None = None,
    open_runtime: bool = True,
    calibration: Calibration | dict | None = None,
) -> Extractor:
    """Resolve runtime, device and precision first, so bad values fail before weights load.

    A CPU runtime runs the ONNX export of the same module, kept in `exports` (default
    ~/.cache/workbench/exports; the pipeline keeps it beside the store) and checked against
    torch when its session opens. `open_runtime=False` only names the vectors (a Ray driver,
    whose actors run the network). Precision int8 needs `calibration`: the images (of the
    task) its activation ranges are measured on, once, when its quantized model is built.
    """
    runtime, torch_device, resolved = resolve_runtime(runtime, device, precision)
    if (resolved == "int8") != (calibration is not None):
        raise ConfigError(
            "precision int8 needs calibration images (and no other precision takes them): "
            "pass calibration=Calibration.sample(paths, keys, count)"
        )
    calibration = None if calibration is None else Calibration.of(calibration)
    backbone = create_backbone(arch, weights, seed=seed, resize=resize, crop=crop)
    if resolved == "int8" and not backbone.convolutional:
        raise ConfigError(
            f"precision int8 quantizes convolutions, and {arch} is a transformer with almost none: "
            "its int8 model would run as float. Use precision bf16 (native on this CPU or a GPU) or fp32"
        )
    prep = backbone.preprocessing
    config = ExtractorConfig(arch, str(weights), seed, prep.resize, prep.crop, resolved, runtime, calibration)
    if runtime == "torch":
        return Extractor(backbone, torch_device, resolved, config)
    network = None
    if open_runtime:
        check_runs_here(runtime, resolved)
        crop_px = backbone.preprocessing.crop
        torch_key = fingerprint_of(Extractor(backbone, torch.device("cpu"), "fp32").spec)
        path = exported_model(backbone.model, crop_px, torch_key, Path(exports or DEFAULT_EXPORTS))
        probe = None
        if calibration is not None:
            path = quantized_model(path, calibration, backbone.preprocessing)
            probe = probe_images(path, backbone.preprocessing)
        network = open_network(runtime, path, resolved, torch.get_num_threads())
        check_against_torch(network, backbone.model, crop_px, runtime, resolved, probe)
    release = version(runtime)
    return Extractor(backbone, torch_device, resolved, config, runtime, network, calibration, release)
