"""One ONNX file from a saved head: uint8 images (N, 3, crop, crop), the short side resized and
centre-cropped, through the backbone and the head to class probabilities (N, classes) and a
score (N,), the largest probability, which the reject option thresholds.

The metadata (ONNX `metadata_props`) says everything a caller needs without this project:
`classes` (JSON, in the output's order), `preprocessing` (JSON: resize, crop, interpolation,
mean, std; the normalisation is inside the graph), `fingerprint` (the extractor an embedding
head was trained on; empty for the fine-tuned network, which is its own), `head` (JSON: name,
params, the SHA-256 of its head.json), `precision`, and `reject` (JSON: the score's
thresholds per accepted share, from the head's validation images).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from features.images.preprocessing import Preprocessing
from features.images.reading import read_image
from features.networks.int8 import quantize_file
from features.networks.onnx_export import write_onnx

from ..exceptions import PipelineError
from ..heads.base import META_FILE, EmbeddingHead, Head
from ..heads.modules import pixel_normalizer
from ..heads.registry import load_head
from ..heads.reject import RejectCalibration

INPUT, OUTPUTS = "images", ["probabilities", "score"]
# Constants a graph may hold (the k-NN head's train vectors): ONNX files stop at 2 GB, and a
# service loads all of it. 512 MB is 100,000 train rows of 1280-d float32.
MAX_CONSTANTS_MB = 512
CALIBRATION_BATCH = 16


@dataclass(frozen=True)
class ExportedModel:
    """What `export_model` wrote."""

    path: Path
    head: str
    classes: list[str]
    preprocessing: Preprocessing
    precision: str  # fp32, or int8 (ONNX Runtime's static quantization)
    megabytes: float


class DeployedModel(nn.Module):
    """uint8 images -> (class probabilities, their maximum)."""

    def __init__(self, features: nn.Module, probabilities: nn.Module):
        super().__init__()
        self.features, self.probabilities = features, probabilities

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        probabilities = self.probabilities(self.features(images.float() / 255.0))
        return probabilities, probabilities.amax(dim=1)


def deployed_model(
    head: Head, max_constants_mb: float = MAX_CONSTANTS_MB
) -> tuple[DeployedModel, Preprocessing]:
    """`head` with its backbone in front (an embedding head) as one frozen fp32 CPU module, and
    the preprocessing its inputs need."""
    probabilities = head.probability_module()
    if probabilities is None:
        raise PipelineError(f"head {head.name} has no form an ONNX graph can hold, so it cannot be exported")
    constants = sum(b.numel() * b.element_size() for b in probabilities.buffers()) / 2**20
    if constants > max_constants_mb:
        raise PipelineError(
            f"head {head.name} would put {constants:.0f} MB of constants (its train vectors) into the "
            f"graph, above the {max_constants_mb:.0f} MB allowed: export a head without them (logreg, "
            "glmnet, mlp), or allow more with --max-constants-mb (ONNX files stop at 2 GB)"
        )
    if isinstance(head, EmbeddingHead):
        backbone = head.trained_features().backbone()
        features = nn.Sequential(pixel_normalizer(backbone.preprocessing), backbone.model)
        preprocessing = backbone.preprocessing
    else:  # an image head's module reads [0, 1] pixels, its normalisation inside
        features, preprocessing = nn.Identity(), head.preprocessing_
    model = DeployedModel(features, probabilities)
    model = copy.deepcopy(model).float().to("cpu", memory_format=torch.contiguous_format)
    return model.eval().requires_grad_(False), preprocessing


def export_model(
    head_dir: str | Path,
    out: str | Path,
    *,
    precision: str = "fp32",
    calibration: list[str] | None = None,
    max_constants_mb: float = MAX_CONSTANTS_MB,
) -> ExportedModel:
    """Write the head in `head_dir` with its backbone to `out` as one ONNX model (published by
    rename). `precision` int8 quantizes it statically (ONNX Runtime, as `embed.precision: int8`
    does), its ranges measured on the `calibration` image files."""
    head_dir, out = Path(head_dir), Path(out)
    if precision not in ("fp32", "int8"):
        raise PipelineError(f"precision: got {precision!r}; choose from ['fp32', 'int8']")
    if precision == "int8" and not calibration:
        raise PipelineError(
            "an int8 export needs calibration images, the task's own (a hundred or so train "
            "images): --calibration FOLDER_OR_FILES"
        )
    head = load_head(head_dir)
    model, preprocessing = deployed_model(head, max_constants_mb)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.{os.getpid()}.part")
    example = torch.zeros(1, 3, preprocessing.crop, preprocessing.crop, dtype=torch.uint8)
    fix = "the head cannot be exported; use `workbench predict` with it instead"
    write_onnx(model, example, part, INPUT, OUTPUTS, name=out, fix=fix)
    try:
        if precision == "int8":
            quantized = part.with_name(part.name + ".int8")
            feed = [lambda chunk=chunk: {INPUT: _uint8_images(chunk, preprocessing)} for chunk in
                    _chunks(calibration, CALIBRATION_BATCH)]  # fmt: skip
            quantize_file(part, quantized, feed)
            os.replace(quantized, part)
        _write_metadata(part, head, head_dir, preprocessing, precision)
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    return ExportedModel(out, head.name, [str(c) for c in head.classes_], preprocessing, precision,
                         out.stat().st_size / 2**20)  # fmt: skip


def _write_metadata(path: Path, head: Head, head_dir: Path, prep: Preprocessing, precision: str) -> None:
    import onnx

    meta = json.loads((head_dir / META_FILE).read_text())
    # an image head runs its own network: its identity is the head's (head_json_sha256)
    source = head.trained_features() if isinstance(head, EmbeddingHead) else None
    reject = RejectCalibration.read(head_dir)
    props = {
        "classes": json.dumps([str(c) for c in head.classes_]),
        "preprocessing": json.dumps(prep.as_dict()),
        "fingerprint": source.fingerprint if source else "",
        "head": json.dumps(
            {
                "name": head.name,
                "params": meta["params"],
                "head_json_sha256": hashlib.sha256((head_dir / META_FILE).read_bytes()).hexdigest(),
            },
            default=str,
        ),  # fmt: skip
        "precision": precision,
        "reject": json.dumps(reject.exported() if reject else None),
        "producer": "workbench export-model",
    }
    model = onnx.load(str(path))
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _uint8_images(paths: list[str], preprocessing: Preprocessing) -> np.ndarray:
    """Image files as the exported model's input: uint8 (N, 3, crop, crop)."""
    return np.stack([preprocessing.to_uint8(read_image(path)).numpy() for path in paths])
