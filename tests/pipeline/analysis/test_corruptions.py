"""Corruptions: deterministic per image, stronger with severity, stored under keys of their own."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from features.extraction.extract import extract
from features.hashing.digest import derived_key, sha256_file
from features.images.loader import ImageDataset
from features.images.preprocessing import Preprocessing
from features.store.open import open_store
from pipeline.analysis import corruptions
from pipeline.analysis.corruptions import CORRUPTIONS, Corruption, corrupt
from tests.conftest import make_folder


@pytest.fixture
def image():
    # Texture (for blur and JPEG to act on) over mid-range values (for brightness and contrast).
    texture = np.random.default_rng(0).integers(60, 190, size=(80, 96, 3), dtype=np.uint8)
    return Image.fromarray(texture)


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_each_corruption_is_seeded_and_grows_with_severity(image, kind):
    base = np.asarray(image, dtype=float)
    distances = [
        np.abs(np.asarray(corrupt(image, kind, s, seed=7), dtype=float) - base).mean() for s in (1, 3, 5)
    ]
    assert 0 < distances[0] < distances[2]
    assert np.array_equal(
        np.asarray(corrupt(image, kind, 3, seed=7)), np.asarray(corrupt(image, kind, 3, seed=7))
    )
    assert corrupt(image, kind, 5, seed=7).size == image.size


def test_corrupted_keys_differ_from_clean_and_are_reused(tmp_path, small_extractor):
    paths = make_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    clean_keys = [sha256_file(p) for p in paths]
    store = open_store(tmp_path / "s.h5")
    extract(paths, store, small_extractor, progress=False)
    corruption = Corruption("gaussian_blur", 3, clean_keys)
    keys = [derived_key(k, corruption.store_tag) for k in clean_keys]
    assert not set(keys) & set(clean_keys)
    assert derived_key(clean_keys[0], Corruption("gaussian_blur", 4, clean_keys).store_tag) != keys[0]
    assert corruptions.DEFINITION in corruption.store_tag  # a new definition gets new keys

    first = extract(paths, store, small_extractor, keys=keys, transform=corruption, progress=False)
    assert first.computed == 6
    again = extract(paths, store, small_extractor, keys=keys, transform=corruption, progress=False)
    assert (again.computed, again.reused) == (0, 6)
    fp = small_extractor.fingerprint
    assert not np.allclose(store.get(fp, keys), store.get(fp, clean_keys))


def test_constants_are_imagenet_c():
    # Hendrycks & Dietterich (2019), make_imagenet_c.py: the values published numbers use.
    assert corruptions.GAUSSIAN_NOISE_STD == (0.08, 0.12, 0.18, 0.26, 0.38)
    assert corruptions.GAUSSIAN_BLUR_SIGMA == (1, 2, 3, 4, 6)
    assert corruptions.JPEG_QUALITY == (25, 18, 15, 10, 7)
    assert corruptions.BRIGHTNESS_SHIFT == (0.1, 0.2, 0.3, 0.4, 0.5)
    assert corruptions.CONTRAST_FACTOR == (0.4, 0.3, 0.2, 0.1, 0.05)


def test_formulas_act_as_imagenet_c_does():
    grey = Image.new("RGB", (64, 64), (100, 100, 100))
    # Gaussian noise: std 0.08 of the [0, 1] range at severity 1.
    noisy = np.asarray(corrupt(grey, "gaussian_noise", 1, seed=0), dtype=float)
    assert np.std(noisy - 100) == pytest.approx(0.08 * 255, rel=0.05)
    # Brightness: +0.1 on HSV value, so a grey of 100 becomes 100 + 25.5.
    assert np.asarray(corrupt(grey, "brightness", 1, seed=0))[0, 0, 0] in (125, 126)
    # Contrast: distances to each channel's mean scaled by 0.05 at severity 5.
    two_tone = np.zeros((8, 8, 3), np.uint8)
    two_tone[:, :4], two_tone[:, 4:] = 50, 150
    low = np.asarray(corrupt(Image.fromarray(two_tone), "contrast", 5, seed=0), dtype=int)
    assert (
        np.abs(low[:, :4] - (100 - 0.05 * 50)).max() <= 1
        and np.abs(low[:, 4:] - (100 + 0.05 * 50)).max() <= 1
    )
    # Gaussian blur: sigma in pixels, so a one-pixel line at sigma 1 keeps ~40% of its peak (1/sqrt(2 pi)).
    line = np.zeros((32, 32, 3), np.uint8)
    line[:, 16] = 255
    blurred = np.asarray(corrupt(Image.fromarray(line), "gaussian_blur", 1, seed=0), dtype=float)
    assert blurred[10, 16, 0] / 255 == pytest.approx(1 / np.sqrt(2 * np.pi), abs=0.01)


def test_a_corruption_sees_the_network_input_size(tmp_path):
    paths = make_folder(tmp_path / "imgs", {"a": 2})  # 48 x 40 pictures
    seen = []

    def record(image, position):
        seen.append(image.size)
        return image

    preprocessing = Preprocessing(resize=36, crop=32, mean=(0.5,) * 3, std=(0.5,) * 3)
    dataset = ImageDataset([str(p) for p in paths], preprocessing, transform=record)
    assert all(dataset[i][1].shape == (3, 32, 32) for i in range(2))
    assert seen == [(32, 32), (32, 32)]


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_brightness_equals_the_hsv_route_of_imagenet_c(severity):
    from matplotlib.colors import hsv_to_rgb, rgb_to_hsv

    pixels = np.random.default_rng(severity).integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    pixels[:5, :5] = 0  # black: no hue to keep
    hsv = rgb_to_hsv(pixels / 255.0)
    hsv[..., 2] = np.clip(hsv[..., 2] + corruptions.BRIGHTNESS_SHIFT[severity - 1], 0, 1)
    reference = np.uint8(np.clip(hsv_to_rgb(hsv), 0, 1) * 255).astype(int)
    ours = np.asarray(corrupt(Image.fromarray(pixels), "brightness", severity, seed=0), dtype=int)
    assert np.abs(ours - reference).max() <= 1  # float32 against float64, truncated to 8 bits
