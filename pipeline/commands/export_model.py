"""`workbench export-model`: a trained head with its backbone as one ONNX file (not a DVC stage)."""

from __future__ import annotations

import argparse
from pathlib import Path

from features.images.listing import list_images

from ..deploy.onnx_model import MAX_CONSTANTS_MB, export_model
from ..exceptions import DataError


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="workbench export-model",
        description="Write a trained head and its backbone as one ONNX model: uint8 images (N, 3, crop, "
        "crop), short side resized and centre-cropped, to class probabilities and a score; classes, "
        "preprocessing and reject thresholds in its metadata. Run it with examples/onnx_predict.py.",
    )
    parser.add_argument(
        "--head", type=Path, required=True, help="a trained head's folder, e.g. artifacts/heads/logreg"
    )
    parser.add_argument("--out", type=Path, required=True, help="the .onnx file to write")
    parser.add_argument("--int8", action="store_true", help="quantize statically (ONNX Runtime, CPU)")
    parser.add_argument(
        "--calibration",
        type=Path,
        nargs="+",
        default=[],
        help="int8: image files or folders its ranges are measured on",
    )
    parser.add_argument(
        "--max-constants-mb", type=float, default=MAX_CONSTANTS_MB,
        help="most MB of constants (the k-NN head's train vectors) the graph may hold (default: %(default)s)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    calibration = []
    if args.calibration:
        listing = list_images(args.calibration)
        if listing.problems:
            raise DataError(f"calibration images that cannot be read: {listing.problems[:5]}")
        calibration = [str(p) for p in listing.images]
    model = export_model(
        args.head,
        args.out,
        precision="int8" if args.int8 else "fp32",
        calibration=calibration,
        max_constants_mb=args.max_constants_mb,
    )
    prep = model.preprocessing
    print(
        f"export-model {model.head}: {len(model.classes)} classes, uint8 (N, 3, {prep.crop}, {prep.crop}) "
        f"after resize {prep.resize} ({prep.interpolation}), {model.precision}, {model.megabytes:.1f} MB "
        f"-> {model.path}"
    )
