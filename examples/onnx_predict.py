"""Classify images with a model from `workbench export-model`, using only onnxruntime, Pillow and
numpy: no torch, no workbench. Everything it needs is in the model's metadata.

    python examples/onnx_predict.py model.onnx photo.jpg more.png [--reject 0.95] [--batch 32]

Prints one line per image: path, predicted class (or `unknown` when --reject is given and the
score is below the threshold that accepts that share of known-class validation images), the
class probability and the score.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

WHITE = (255, 255, 255, 255)  # what transparent pixels are read as (features/constants.py)
# Pillow's filters by the names torchvision uses (the `interpolation` the model records)
FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
           "nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS}  # fmt: skip


def load(path: str) -> tuple[ort.InferenceSession, dict]:
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    return session, {key: json.loads(meta[key]) for key in ("classes", "preprocessing", "reject")}


def pixels(path: str, prep: dict) -> np.ndarray:
    """The image as the model takes it, read as the workbench reads it: upright (EXIF), RGB with
    transparency over white, the short side resized to `resize`, centre-cropped to `crop`,
    uint8 (3, crop, crop). (16-bit and float images: the workbench rescales them; convert
    those first.)"""
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)
        if image.mode in ("RGBA", "LA", "PA", "P"):
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, WHITE), rgba)
        image = image.convert("RGB")
    width, height, resize = *image.size, prep["resize"]
    # torchvision's sizes: the long side int(long * resize / short)
    size = (
        (resize, int(resize * height / width)) if width <= height else (int(resize * width / height), resize)
    )
    image = image.resize(size, FILTERS[prep["interpolation"]])
    crop, (width, height) = prep["crop"], image.size
    left, top = int(round((width - crop) / 2.0)), int(round((height - crop) / 2.0))
    image = image.crop((left, top, left + crop, top + crop))
    return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("images", nargs="+")
    parser.add_argument(
        "--reject", type=float, help="accept this share of known-class images (0.9, 0.95, 0.99)"
    )
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    session, meta = load(args.model)
    threshold = None
    if args.reject is not None:
        thresholds = (meta["reject"] or {}).get("thresholds", {})
        if str(args.reject) not in thresholds:
            why = (meta["reject"] or {}).get("note") or "it records no validation scores"
            raise SystemExit(
                f"the model has reject thresholds for {sorted(thresholds)}, not {args.reject}: {why}"
            )
        threshold = thresholds[str(args.reject)]
    classes = meta["classes"]
    for start in range(0, len(args.images), args.batch):
        paths = args.images[start : start + args.batch]
        batch = np.stack([pixels(path, meta["preprocessing"]) for path in paths])
        probabilities, scores = session.run(["probabilities", "score"], {"images": batch})
        for path, proba, score in zip(paths, probabilities, scores, strict=True):
            best = int(proba.argmax())
            name = "unknown" if threshold is not None and score < threshold else classes[best]
            print(f"{path}\t{name}\t{proba[best]:.4f}\tscore {score:.4f}")


if __name__ == "__main__":
    main()
