"""Corruptions: deterministic per image, stronger with severity, stored under keys of their own."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from features import FeatureStore, derived_key, extract, sha256_file
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
    store = FeatureStore(tmp_path / "s.h5")
    extract(paths, store, small_extractor, progress=False)
    corruption = Corruption("blur", 3, clean_keys)
    keys = [derived_key(k, corruption.name) for k in clean_keys]
    assert not set(keys) & set(clean_keys)
    assert derived_key(clean_keys[0], "blur@4") != keys[0]

    first = extract(paths, store, small_extractor, keys=keys, transform=corruption, progress=False)
    assert first.computed == 6
    again = extract(paths, store, small_extractor, keys=keys, transform=corruption, progress=False)
    assert (again.computed, again.reused) == (0, 6)
    fp = small_extractor.fingerprint
    assert not np.allclose(store.get(fp, keys), store.get(fp, clean_keys))
