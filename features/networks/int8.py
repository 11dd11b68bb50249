"""int8: the ONNX export quantized statically (ONNX Runtime), calibrated on named images.

An int8 network is only defined by the images its activation ranges were measured on, so
those images are part of what it is: their content keys are hashed into the extractor's
fingerprint, and the quantized model is cached under that hash beside the float export.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..exceptions import ConfigError, ImageReadError
from ..hashing.digest import read_hashed, sha256_file
from ..images.preprocessing import Preprocessing
from ..images.reading import read_image
from . import side_files

log = logging.getLogger(__name__)

# How the ranges are found and the tensors stored; in the fingerprint, so a change of method
# is a new set of vectors. QDQ with per-channel s8 weights and u8 activations is what ONNX
# Runtime's CPU kernels (VNNI and AVX2 alike) run fastest; min-max ranges need one pass.
# The network's last convolution and what follows it (residual add, pool) stay float: quantized,
# the output's features below one uint8 step (a tenth of ResNet-50's) came out as a few levels,
# and heads that standardise features (the MLP: 0.435 -> 0.181 test accuracy) lost them.
METHOD = "onnxruntime static QDQ, per-channel s8 weights, u8 activations, min-max; last conv onward float"
_BATCH = 16
PROBE_IMAGES = 4  # calibration images the model is checked on against torch


@dataclass(frozen=True)
class Calibration:
    """The images an int8 network is calibrated on: their paths, and the content keys that
    name them (checked when they are read)."""

    paths: tuple[str, ...]
    keys: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.paths or len(self.paths) != len(self.keys):
            raise ConfigError("int8 calibration needs at least one image, and a key for each")

    @classmethod
    def of(cls, value: Calibration | dict) -> Calibration:
        """From itself or from its recipe form (`as_recipe`)."""
        if isinstance(value, Calibration):
            return value
        return cls(tuple(value["paths"]), tuple(value["keys"]))

    @classmethod
    def sample(cls, paths: Sequence[str], keys: Sequence[str], count: int, seed: int = 0) -> Calibration:
        """`count` of the images (all when fewer), drawn by `seed` from them in key order, so
        the listing's order does not change the draw; a repeated content is drawn once."""
        ordered = sorted(dict(zip(keys, paths, strict=True)).items())
        picked = [ordered[i] for i in _draw(len(ordered), count, seed)]
        return cls(tuple(str(Path(p).resolve()) for _, p in picked), tuple(k for k, _ in picked))

    @classmethod
    def of_files(cls, paths: Sequence[str], count: int, seed: int = 0) -> Calibration:
        """`count` of the files (all when fewer), drawn by `seed` in path order, and hashed."""
        ordered = sorted({str(Path(p).resolve()) for p in paths})
        picked = [ordered[i] for i in _draw(len(ordered), count, seed)]
        return cls(tuple(picked), tuple(sha256_file(p) for p in picked))

    @property
    def digest(self) -> str:
        return hashlib.sha256("\n".join(sorted(self.keys)).encode()).hexdigest()[:24]

    def spec(self) -> dict:
        return {"images": len(self.keys), "keys": self.digest, "method": METHOD}

    def as_recipe(self) -> dict:
        return {"paths": list(self.paths), "keys": list(self.keys)}

    def batches(self) -> list[range]:
        return [range(i, min(i + _BATCH, len(self.paths))) for i in range(0, len(self.paths), _BATCH)]

    def load(self, rows: range, preprocessing: Preprocessing) -> np.ndarray:
        """Those images, normalised as the network sees them."""
        return preprocessing.normalize(self._uint8(rows, preprocessing)).numpy()

    def _uint8(self, rows: range, preprocessing: Preprocessing) -> torch.Tensor:
        """Those images as uint8 network inputs; stops if one is gone or its content is no
        longer the one the fingerprint names."""
        images = []
        for path, key in zip([self.paths[i] for i in rows], [self.keys[i] for i in rows], strict=True):
            try:
                data, found = read_hashed(path)
                if found != key:
                    raise ConfigError(
                        f"int8 calibration image {path} changed since it was chosen (its content is "
                        "part of the network's fingerprint): put it back, or re-embed so a new sample "
                        "is drawn"
                    )
                images.append(preprocessing.to_uint8(read_image(path, data)))
            except (OSError, ImageReadError) as exc:
                raise ConfigError(
                    f"int8 calibration image {path} cannot be read ({exc}), and the network quantized on "
                    "it is not cached here: put the image back, or re-embed so a new sample is drawn"
                ) from exc
        return torch.stack(images)


def _from_last_conv(model: Path) -> list[str]:
    """The names of the last Conv node and every node after it (ONNX keeps nodes in
    topological order)."""
    import onnx

    nodes = onnx.load(str(model), load_external_data=False).graph.node
    last = max(i for i, node in enumerate(nodes) if node.op_type == "Conv")
    return [node.name for node in nodes[last:]]


def _draw(n: int, count: int, seed: int) -> list[int]:
    """`count` of `n` positions (all when fewer), drawn by `seed`, in order."""
    return sorted(np.random.default_rng(seed).permutation(n)[:count].tolist())


@contextlib.contextmanager
def _root_logger_quiet() -> Iterator[None]:
    # onnxruntime.quantization logs every bias it copies on the root logger, at INFO
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(level)


def quantized_model(float_model: Path, calibration: Calibration, preprocessing: Preprocessing) -> Path:
    """The int8 model of `float_model` calibrated on `calibration`, built once (published by
    rename) and reused after."""
    # named by method and images both: another method's model must not be taken for this one's
    tag = hashlib.sha256(f"{METHOD}\n{calibration.digest}".encode()).hexdigest()[:24]
    path = float_model.with_name(f"{float_model.stem}-int8-{tag}.onnx")
    # Both checked against their recorded hashes (either failing is set aside): a model that
    # changed would embed under this fingerprint with wrong vectors
    model_ok, probe_ok = side_files.usable(path), side_files.usable(_probe_file(path))
    if model_ok and probe_ok:
        return path
    log.info("quantizing the network to int8 once, on %d calibration images: %s", len(calibration.keys), path)

    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    feed = [functools.partial(_inputs, calibration, rows, preprocessing) for rows in calibration.batches()]
    quantize_file(float_model, part, feed)
    # A few calibration images kept beside the model (published first), so every session that
    # opens it is checked on images like those it was calibrated on (on noise its ranges clip)
    # without needing the calibration files again.
    probe = calibration._uint8(range(min(PROBE_IMAGES, len(calibration.keys))), preprocessing)
    probe_part = _probe_file(part)
    np.save(probe_part, probe.numpy())
    side_files.publish(probe_part, _probe_file(path))
    side_files.publish(part, path)
    return path


def _inputs(calibration: Calibration, rows: range, preprocessing: Preprocessing) -> dict:
    return {"images": calibration.load(rows, preprocessing)}


def quantize_file(float_model: Path, target: Path, feed: Sequence[Callable[[], dict]]) -> None:
    """Write `float_model` quantized by METHOD to `target`, its ranges measured on the inputs each
    of `feed` returns (one batch each, loaded when reached)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        """One batch per range: ONNX Runtime merges the ranges after each (CalibStridedMinMax),
        so memory is one batch's activations, not every image's."""

        def __init__(self) -> None:
            self.pending: list[int] = []

        def __len__(self) -> int:
            return len(feed)

        def set_range(self, start_index: int, end_index: int) -> None:
            self.pending = list(range(start_index, end_index))

        def get_next(self) -> dict | None:
            return feed[self.pending.pop(0)]() if self.pending else None

    with tempfile.TemporaryDirectory(dir=target.parent) as scratch, _root_logger_quiet():
        prepared = Path(scratch) / "prepared.onnx"
        # Folding and shape inference first: without them the convolutions' biases are not
        # constants and ONNX Runtime leaves them (and so the whole net) unquantized, slower than fp32.
        quant_pre_process(str(float_model), str(prepared), skip_symbolic_shape=True)
        try:
            quantize_static(
                str(prepared),
                str(target),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                nodes_to_exclude=_from_last_conv(prepared),
                extra_options={"CalibStridedMinMax": 1},
            )
        except BaseException:
            target.unlink(missing_ok=True)
            raise


def probe_images(model: Path, preprocessing: Preprocessing) -> np.ndarray:
    """The calibration images kept beside an int8 model, normalised as the network sees them."""
    return preprocessing.normalize(torch.from_numpy(np.load(_probe_file(model)))).numpy()


def _probe_file(model: Path) -> Path:
    return model.with_name(model.name + ".probe.npy")
