"""Image corruptions at severities 1-5 with the constants of ImageNet-C, seeded per image.

Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions and
Perturbations", ICLR 2019; constants from their `make_imagenet_c.py` and the `imagenet_c`
package (github.com/hendrycks/robustness, ImageNet-C/imagenet_c/imagenet_c/corruptions.py).
Like ImageNet-C, a corruption acts on the image as the network sees it (after the resize
and centre crop: 224 pixels for the default weights), so pixel-sized constants such as the
blur's sigma mean the same thing. Where ours differ from theirs:

- `occlusion` is ours, not an ImageNet-C corruption: a grey square of a fraction of the side.
- The Gaussian blur is ImageNet-C's extra `gaussian_blur`, not one of its 15 benchmark corruptions.
- Their noise comes from NumPy's global generator; ours from a generator seeded per image
  and corruption, so every head sees the same corrupted image in every run.
- Inputs other than 224 pixels (a fine-tuned head at 112, say) get the same pixel constants,
  so blur is relatively stronger there than in ImageNet-C.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

# The corruptions by name (ImageNet-C's names; occlusion is ours), as robustness.corruptions lists them.
CORRUPTIONS = ("gaussian_noise", "gaussian_blur", "jpeg_compression", "brightness", "contrast", "occlusion")

# ImageNet-C severity constants, severity 1 to 5.
GAUSSIAN_NOISE_STD = (0.08, 0.12, 0.18, 0.26, 0.38)  # on [0, 1] pixels
GAUSSIAN_BLUR_SIGMA = (1, 2, 3, 4, 6)  # pixels of the 224-pixel input
JPEG_QUALITY = (25, 18, 15, 10, 7)
BRIGHTNESS_SHIFT = (0.1, 0.2, 0.3, 0.4, 0.5)  # added to HSV value
CONTRAST_FACTOR = (0.4, 0.3, 0.2, 0.1, 0.05)  # distance to each channel's mean, scaled
# Ours (no ImageNet-C counterpart): side of the grey square, as a fraction of the short side.
OCCLUSION_SIDE = (0.1, 0.2, 0.3, 0.4, 0.5)

# Part of every corrupted image's store key: change it whenever a corruption's definition
# changes, or the store would hand back vectors of the old corrupted images.
DEFINITION = "imagenet-c-constants/at-input-size/float32"


def corrupt(image: Image.Image, kind: str, severity: int, seed: int) -> Image.Image:
    """`image` (RGB) under corruption `kind` at `severity` in 1..5."""
    if not 1 <= severity <= 5:
        raise ValueError(f"severity: got {severity}; choose 1 to 5")
    s = severity - 1
    if kind == "jpeg_compression":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=JPEG_QUALITY[s])
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    if kind == "occlusion":
        rng = np.random.default_rng(seed)
        side = max(1, round(OCCLUSION_SIDE[s] * min(image.size)))
        x = int(rng.integers(0, image.width - side + 1))
        y = int(rng.integers(0, image.height - side + 1))
        out = image.copy()
        out.paste((128, 128, 128), (x, y, x + side, y + side))
        return out
    x = np.asarray(image, dtype=np.float32) / 255.0  # float32: the result is 8-bit anyway
    if kind == "gaussian_noise":
        x = x + np.random.default_rng(seed).normal(scale=GAUSSIAN_NOISE_STD[s], size=x.shape)
    elif kind == "gaussian_blur":
        # What skimage.filters.gaussian does for them: per channel, nearest-edge, truncated at 4 sigma.
        sigma = GAUSSIAN_BLUR_SIGMA[s]
        x = gaussian_filter(x, sigma=(sigma, sigma, 0), mode="nearest", truncate=4.0)
    elif kind == "brightness":
        # ImageNet-C adds the shift to HSV value (max of r, g, b) and converts back; hue and
        # saturation survive scaling all three channels alike, so this is the same, 10x faster.
        value = x.max(axis=2, keepdims=True)
        shifted = np.minimum(value + BRIGHTNESS_SHIFT[s], 1.0)
        x = np.where(value > 0, x * (shifted / np.maximum(value, 1e-12)), shifted)
    elif kind == "contrast":
        means = x.mean(axis=(0, 1), keepdims=True)
        x = (x - means) * CONTRAST_FACTOR[s] + means
    else:
        raise ValueError(f"corruption: got {kind!r}; choose from {list(CORRUPTIONS)}")
    # np.uint8 truncates, as ImageNet-C's own saving does.
    return Image.fromarray(np.uint8(np.clip(x, 0, 1) * 255))


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

    @property
    def store_tag(self) -> str:
        """What the store key of a corrupted image derives from, besides the clean key."""
        return f"{self.name}|{DEFINITION}"

    def seed(self, position: int) -> int:
        return zlib.crc32(f"{self.keys[position]}|{self.name}".encode())

    def __call__(self, image: Image.Image, position: int) -> Image.Image:
        return corrupt(image, self.kind, self.severity, self.seed(position))
