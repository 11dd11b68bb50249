"""Image corruptions at severities 1-5 (after Hendrycks & Dietterich), seeded per image."""

from __future__ import annotations

import io
import zlib

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from ..config import CORRUPTIONS

# Severity 1..5 parameters, mild to harsh.
_NOISE_SIGMA = (0.04, 0.08, 0.12, 0.18, 0.26)  # fraction of the 0-255 range
_BLUR_RADIUS = (0.75, 1.5, 2.5, 3.5, 5.0)  # pixels, for an image of about 300 px
_JPEG_QUALITY = (30, 18, 12, 8, 5)
_BRIGHTNESS = (1.3, 1.6, 1.9, 2.2, 2.6)  # multiplicative
_CONTRAST = (0.6, 0.45, 0.32, 0.22, 0.14)
_OCCLUSION = (0.1, 0.2, 0.3, 0.4, 0.5)  # side of the grey square, as a fraction of the short side


def corrupt(image: Image.Image, kind: str, severity: int, seed: int) -> Image.Image:
    """`image` (RGB) under corruption `kind` at `severity` in 1..5."""
    if not 1 <= severity <= 5:
        raise ValueError(f"severity: got {severity}; choose 1 to 5")
    s = severity - 1
    if kind == "gaussian_noise":
        rng = np.random.default_rng(seed)
        array = np.asarray(image, dtype=np.float32) / 255.0
        noisy = array + rng.normal(scale=_NOISE_SIGMA[s], size=array.shape)
        return Image.fromarray((np.clip(noisy, 0, 1) * 255).round().astype(np.uint8))
    if kind == "blur":
        return image.filter(ImageFilter.GaussianBlur(_BLUR_RADIUS[s]))
    if kind == "jpeg":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=_JPEG_QUALITY[s])
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    if kind == "brightness":
        return ImageEnhance.Brightness(image).enhance(_BRIGHTNESS[s])
    if kind == "contrast":
        return ImageEnhance.Contrast(image).enhance(_CONTRAST[s])
    if kind == "occlusion":
        rng = np.random.default_rng(seed)
        side = max(1, round(_OCCLUSION[s] * min(image.size)))
        x = int(rng.integers(0, image.width - side + 1))
        y = int(rng.integers(0, image.height - side + 1))
        out = image.copy()
        out.paste((128, 128, 128), (x, y, x + side, y + side))
        return out
    raise ValueError(f"corruption: got {kind!r}; choose from {list(CORRUPTIONS)}")


class Corruption:
    """A picklable image transform for the extraction loader: one corruption, one severity.

    The random draw for an image depends on its content key, the corruption and the
    severity, so the same image is corrupted identically for every head and every run.
    """

    def __init__(self, kind: str, severity: int, keys: list[str]):
        self.kind, self.severity, self.keys = kind, severity, keys

    @property
    def name(self) -> str:
        return f"{self.kind}@{self.severity}"

    def seed(self, position: int) -> int:
        return zlib.crc32(f"{self.keys[position]}|{self.name}".encode())

    def __call__(self, image: Image.Image, position: int) -> Image.Image:
        return corrupt(image, self.kind, self.severity, self.seed(position))
