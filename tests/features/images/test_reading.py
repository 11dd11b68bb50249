"""read_image: formats, modes, EXIF orientation, and every kind of bad file."""

from __future__ import annotations

import io
import os

import numpy as np
import PIL
import pytest
from PIL import Image

from features.constants import ALPHA_BACKGROUND
from features.exceptions import ImageReadError
from features.images.reading import read_image, to_rgb
from tests.conftest import make_image


@pytest.mark.parametrize("suffix", ["jpg", "jpeg", "png", "bmp", "gif", "webp", "tif", "tiff"])
def test_every_supported_format_reads_as_rgb(tmp_path, suffix):
    path = make_image(tmp_path / f"x.{suffix}", seed=1)
    image = read_image(path)
    assert image.mode == "RGB" and image.size == (48, 40)


# Pillow before 13 cannot decode YCbCr TIFFs at all, its own included: there such files are
# reported as undecodable (excluded with the reason), which is all the floor (10.3) promises.
OLD_PILLOW = int(PIL.__version__.split(".")[0]) < 13
YCBCR = pytest.param(
    "YCbCr", marks=pytest.mark.skipif(OLD_PILLOW, reason="Pillow < 13 cannot decode YCbCr TIFFs")
)


@pytest.mark.parametrize("mode", ["L", "1", "P", "CMYK", YCBCR, "RGB"])
def test_plain_modes_become_rgb(tmp_path, mode):
    source = Image.new("RGB", (8, 6), (200, 100, 50)).convert(mode)
    path = tmp_path / "m.tiff"
    source.save(path)
    image = read_image(path)
    assert image.mode == "RGB" and image.size == (8, 6)


def _half_transparent() -> Image.Image:
    source = Image.new("RGBA", (4, 4), (10, 20, 30, 0))  # fully transparent
    source.putpixel((0, 0), (10, 20, 30, 255))  # one opaque pixel
    return source


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_on_the_fixed_background(tmp_path, mode):
    path = tmp_path / "a.png"
    _half_transparent().convert(mode).save(path)
    array = np.asarray(read_image(path))
    assert tuple(array[3, 3]) == ALPHA_BACKGROUND
    assert tuple(array[0, 0]) != ALPHA_BACKGROUND


def test_palette_alpha_is_composited():
    # Built band by band: Pillow before 13 drops the alpha in RGBA.convert("PA").
    alpha = Image.new("L", (4, 4), 0)
    alpha.putpixel((0, 0), 255)
    image = Image.merge("PA", (Image.new("P", (4, 4), 0), alpha))
    image.putpalette([10, 20, 30] + [0] * 765)
    array = np.asarray(to_rgb(image))
    assert tuple(array[3, 3]) == ALPHA_BACKGROUND and tuple(array[0, 0]) == (10, 20, 30)


def test_palette_transparency_is_composited(tmp_path):
    source = Image.new("P", (4, 4), 0)
    source.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    source.putpixel((1, 1), 1)
    path = tmp_path / "p.png"
    source.save(path, transparency=0)
    array = np.asarray(read_image(path))
    assert tuple(array[0, 0]) == ALPHA_BACKGROUND
    assert tuple(array[1, 1]) == (255, 0, 0)


def test_sixteen_bit_is_rescaled_not_clipped(tmp_path):
    values = np.array([[0, 32768, 65535]], dtype=np.uint16)
    path = tmp_path / "wide.png"
    Image.fromarray(values).save(path)  # uint16 arrays become mode I;16
    gray = np.asarray(read_image(path))[0, :, 0]
    assert list(gray) == [0, 128, 255]


def test_float_image_in_unit_range_is_rescaled(tmp_path):
    path = tmp_path / "f.tiff"
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32)).save(path)
    assert list(np.asarray(read_image(path))[0, :, 0]) == [0, 128, 255]


def test_exif_orientation_is_applied(tmp_path):
    source = Image.new("RGB", (30, 10), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "rot.jpg"
    source.save(path, exif=exif)
    assert read_image(path).size == (10, 30)


def test_first_frame_of_an_animation(tmp_path):
    frames = [Image.new("RGB", (5, 5), c) for c in [(255, 0, 0), (0, 255, 0)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    red, green, _ = np.asarray(read_image(path))[2, 2]
    assert red > 200 and green < 50


def _jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.jpg", b"", "empty file"),
        ("text.jpg", b"this is not an image at all", "not an image"),
        ("truncated.jpg", _jpeg_bytes()[:300], "cannot decode"),
        ("garbage.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image"),
    ],
)
def test_bad_files_raise_with_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=reason) as info:
        read_image(path)
    assert info.value.path == str(path)


def test_missing_and_directory(tmp_path):
    with pytest.raises(ImageReadError, match="file not found"):
        read_image(tmp_path / "absent.jpg")
    (tmp_path / "dir.jpg").mkdir()
    with pytest.raises(ImageReadError, match="directory"):
        read_image(tmp_path / "dir.jpg")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path):
    path = make_image(tmp_path / "locked.png", seed=0)
    path.chmod(0)
    with pytest.raises(ImageReadError, match="permission denied"):
        read_image(path)


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    import features.images.reading

    monkeypatch.setattr(features.images.reading, "MAX_IMAGE_PIXELS", 100)
    path = make_image(tmp_path / "big.png", seed=0, size=(20, 20))
    with pytest.raises(ImageReadError, match="decompression bomb"):
        read_image(path)
