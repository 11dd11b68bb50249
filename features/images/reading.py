"""Robust image reading: any common format and mode in, an upright RGB picture out."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..constants import ALPHA_BACKGROUND, IMAGE_EXTENSIONS, MAX_IMAGE_PIXELS
from ..exceptions import ImageReadError
from ..hashing.digest import open_regular, read_hashed, unreadable

# Modes holding more than 8 bits per sample; Pillow's convert("RGB") clips them instead
# of scaling, which turns most 16-bit scans white.
_WIDE_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def is_image_file(path: str | os.PathLike) -> bool:
    """True for files whose extension is one the library reads."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


@dataclass(frozen=True)
class Decoded:
    """One file read: its picture or why there is none, and its key when it was hashed."""

    image: Image.Image | None
    error: str | None = None  # the reason, when `image` is None
    key: str | None = None  # SHA-256 of the bytes when asked for ("" if unreadable), else None


def read_keyed(path: str, hash: bool) -> Decoded:
    """`read_image`, answered rather than raised; with `hash`, the SHA-256 of the very bytes
    decoded (the file is read once for both)."""
    key = "" if hash else None
    try:
        data = None
        if hash:
            data, key = read_hashed(path)
        return Decoded(read_image(path, data), key=key)
    except OSError as exc:
        return Decoded(None, unreadable(exc), key)
    except ImageReadError as exc:
        return Decoded(None, exc.reason, key)


def check_images(paths: Sequence[str | os.PathLike], workers: int = 4) -> list[tuple[str, str | None]]:
    """(SHA-256, None) for each file that decodes, (SHA-256 or "", reason) for the others; one
    read of each file serves the hash and the check, in threads (both release the GIL)."""

    def check(path) -> tuple[str, str | None]:
        read = read_keyed(str(path), hash=True)
        return read.key, read.error

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(check, paths))


def read_image(path: str | os.PathLike, data: bytes | None = None) -> Image.Image:
    """Decode `path` fully into an upright 8-bit RGB image, or raise ImageReadError.

    `data`: the file's bytes when the caller has read them already (to hash them), so the
    file is read once; `path` then only names it in errors.
    """
    path = str(path)
    if data is None:
        try:
            with open_regular(path) as handle:  # never Pillow's own open: it would wait on a FIFO
                data = handle.read()
        except FileNotFoundError as exc:
            raise ImageReadError(path, "file not found") from exc
        except PermissionError as exc:
            raise ImageReadError(path, "permission denied") from exc
        except OSError as exc:
            raise ImageReadError(path, unreadable(exc)) from exc
    try:
        if len(data) == 0:
            raise ImageReadError(path, "empty file (0 bytes)")
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its limit; refuse both alike.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                _check_size(path, image)
                image.seek(0)  # first frame of an animation or multi-page TIFF
                image.load()  # decode now, so truncation surfaces here
                image = ImageOps.exif_transpose(image)
                return to_rgb(image)
    except ImageReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(path, f"decompression bomb refused: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(path, "not an image Pillow can identify") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated and corrupt streams as OSError, SyntaxError or ValueError.
        raise ImageReadError(path, f"cannot decode: {exc}") from exc


def _check_size(path: str, image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageReadError(
            path,
            f"decompression bomb refused: {width}x{height} = {width * height} pixels "
            f"exceeds the limit of {MAX_IMAGE_PIXELS}",
        )
    if width == 0 or height == 0:
        raise ImageReadError(path, f"image has no pixels ({width}x{height})")


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB: wide modes are rescaled, alpha is composited."""
    if image.mode == "RGB":
        return image
    if image.mode in _WIDE_MODES:
        return _wide_to_rgb(image)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*ALPHA_BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _wide_to_rgb(image: Image.Image) -> Image.Image:
    array = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        # Float images are taken as [0, 1] when they fit, else as 8-bit values.
        scale = 255.0 if array.size and np.nanmax(array) <= 1.0 else 1.0
    elif image.mode.startswith("I;16") or (array.size and array.max() > 255):
        scale = 255.0 / 65535.0
    else:
        scale = 1.0
    gray = np.clip(np.nan_to_num(array * scale), 0, 255).round().astype(np.uint8)
    return Image.fromarray(gray, mode="L").convert("RGB")
