"""int8: ONNX Runtime's static quantization, calibrated on named images, with its own fingerprint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import features.networks.int8
from features.exceptions import ConfigError
from features.extraction.extract import extract
from features.hashing.digest import sha256_file
from features.images.reading import read_image
from features.networks.extractor import create_extractor
from features.networks.int8 import Calibration
from features.networks.onnx_export import installed
from features.store.open import open_store
from tests.conftest import SMALL, make_picture

pytestmark = pytest.mark.skipif(not installed("onnxruntime"), reason="onnxruntime is not installed")


@pytest.fixture
def pictures(tmp_path):
    """Photo-like images: calibration ranges measured on noise would say little."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    for seed in range(12):
        make_picture(folder / f"p{seed:02d}.png", seed)
    return sorted(str(p) for p in folder.glob("*.png"))


def _int8(tmp_path, calibration, **kwargs):
    return create_extractor(weights="none", device="cpu", precision="int8", runtime="onnxruntime",
                            resize=SMALL, crop=SMALL, calibration=calibration,
                            exports=tmp_path / "exports", **kwargs)  # fmt: skip


def _uint8(extractor, paths):
    prep = extractor.backbone.preprocessing
    return torch.stack([prep.to_uint8(read_image(p)) for p in paths])


def test_int8_is_near_torch_under_a_fingerprint_naming_its_calibration(tmp_path, pictures):
    calibration = Calibration.of_files(pictures[:8], count=8)
    int8 = _int8(tmp_path, calibration)
    fp32 = create_extractor(weights="none", device="cpu", precision="fp32", resize=SMALL, crop=SMALL)
    images = _uint8(fp32, pictures[8:])  # images it was not calibrated on
    got, expected = int8(images), fp32(images)
    cosine = (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    assert cosine.min() > 0.99
    assert int8.runtime == "onnxruntime" and int8.release.startswith("onnxruntime ")
    assert int8.spec["runtime"] == int8.release and int8.precision == "int8"
    assert int8.spec["calibration"] == {
        "images": 8,
        "keys": calibration.digest,
        "method": features.networks.int8.METHOD,
    }
    other = _int8(tmp_path, Calibration.of_files(pictures[4:], count=8))
    assert len({int8.fingerprint, other.fingerprint, fp32.fingerprint}) == 3


def test_the_draw_is_seeded_and_does_not_depend_on_the_listing_order(pictures):
    keys = [sha256_file(p) for p in pictures]
    first = Calibration.sample(pictures, keys, count=5, seed=0)
    assert first == Calibration.sample(pictures[::-1], keys[::-1], count=5, seed=0)
    assert first.digest != Calibration.sample(pictures, keys, count=5, seed=1).digest
    assert len(Calibration.sample(pictures, keys, count=100).keys) == len(pictures)  # all when fewer
    assert Calibration.of_files(pictures, 5) == Calibration.of_files(pictures[::-1], 5)


def test_the_quantized_model_is_built_once_and_rebuilt_from_the_recipe(tmp_path, pictures, monkeypatch):
    import onnxruntime.quantization

    built = []
    real = onnxruntime.quantization.quantize_static
    monkeypatch.setattr(
        onnxruntime.quantization, "quantize_static", lambda *a, **k: built.append(1) or real(*a, **k)
    )
    first = _int8(tmp_path, Calibration.of_files(pictures, 6))
    again = create_extractor(
        device="cpu", exports=tmp_path / "exports", **first.config.recipe()
    )  # another process
    assert again.fingerprint == first.fingerprint and len(built) == 1
    images = _uint8(first, pictures[:3])
    np.testing.assert_array_equal(again(images), first(images))

    for path in (tmp_path / "exports").glob("*-int8-*.onnx"):
        path.unlink()
    create_extractor(device="cpu", exports=tmp_path / "exports", **first.config.recipe())
    assert len(built) == 2


def test_a_cached_model_opens_without_its_calibration_images(tmp_path, pictures):
    first = _int8(tmp_path, Calibration.of_files(pictures, 6))
    for path in first.config.recipe()["calibration"]["paths"]:
        Path(path).unlink()  # predict on another machine: the model cached, the images not there
    again = create_extractor(device="cpu", exports=tmp_path / "exports", **first.config.recipe())
    assert again.fingerprint == first.fingerprint


def test_a_changed_calibration_image_stops_the_rebuild_naming_it(tmp_path, pictures):
    first = _int8(tmp_path, Calibration.of_files(pictures, 6))
    for path in (tmp_path / "exports").glob("*-int8-*.onnx"):
        path.unlink()
    changed = first.config.recipe()["calibration"]["paths"][2]
    make_picture(changed, 99)
    with pytest.raises(ConfigError, match=rf"calibration image {changed} changed"):
        create_extractor(device="cpu", exports=tmp_path / "exports", **first.config.recipe())


def test_int8_vectors_are_reused_only_by_int8_on_the_same_calibration(tmp_path, pictures):
    store = open_store(tmp_path / "store")
    calibration = Calibration.of_files(pictures, 6)
    first = extract(pictures, store, _int8(tmp_path, calibration), progress=False)
    again = extract(pictures, store, _int8(tmp_path, calibration), progress=False)
    fp32 = create_extractor(weights="none", device="cpu", precision="fp32", resize=SMALL, crop=SMALL,
                            runtime="onnxruntime", exports=tmp_path / "exports")  # fmt: skip
    other = extract(pictures, store, fp32, progress=False)
    assert (first.computed, again.computed, again.reused, other.computed) == (12, 0, 12, 12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"runtime": "torch"}, "precision int8 runs on runtime onnxruntime"),
        ({"runtime": "openvino"}, "precision int8 runs on runtime onnxruntime"),
        ({"device": "cuda"}, "precision int8 runs on the CPU"),
        ({"calibration": None}, "precision int8 needs calibration images"),
    ],
)
def test_what_int8_cannot_do_is_refused_before_anything_loads(kwargs, message, pictures):
    calibration = Calibration.of_files(pictures, 2)
    args = {"weights": "none", "precision": "int8", "runtime": "auto", "calibration": calibration,
            "device": "cpu", **kwargs}  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        create_extractor(**args)


def test_calibration_is_refused_for_another_precision(pictures):
    with pytest.raises(ConfigError, match="no other precision takes them"):
        create_extractor(
            weights="none", device="cpu", precision="fp32", calibration=Calibration.of_files(pictures, 2)
        )


def test_another_quantization_method_is_another_model_and_fingerprint(tmp_path, pictures, monkeypatch):
    calibration = Calibration.of_files(pictures, 4)
    first = _int8(tmp_path, calibration).fingerprint
    monkeypatch.setattr(features.networks.int8, "METHOD", features.networks.int8.METHOD + ", changed")
    assert _int8(tmp_path, calibration).fingerprint != first
    assert len(list((tmp_path / "exports").glob("*-int8-*.onnx"))) == 2


@pytest.mark.parametrize("damage", ["flip 64 bytes", "flip low bits", "truncate", "empty"])
def test_a_damaged_side_file_is_set_aside_and_rebuilt_never_used(tmp_path, pictures, damage, caplog):
    """The issue's reproduction: the int8 model (or the fp32 export) damaged, extraction gave
    other vectors under the clean fingerprint and `verify` saw nothing."""
    from features.store.verify import verify_store

    first = _int8(tmp_path, Calibration.of_files(pictures, 6))
    images = _uint8(first, pictures[:3])
    clean = first(images)
    exports = tmp_path / "exports"
    (model,) = exports.glob("*-int8-*.onnx")
    (export,) = [p for p in exports.glob("*.onnx") if "-int8-" not in p.name]
    target = model if damage.startswith("flip") else export
    data = bytearray(target.read_bytes())
    if damage == "flip 64 bytes":
        data[len(data) // 2 : len(data) // 2 + 64] = bytes(
            b ^ 0xFF for b in data[len(data) // 2 : len(data) // 2 + 64]
        )
    elif damage == "flip low bits":
        for i in range(len(data) // 3, len(data) // 3 + 200):
            data[i] ^= 0x01
    target.write_bytes(
        bytes(data[: len(data) // 2]) if damage == "truncate" else b"" if damage == "empty" else data
    )

    store = open_store(tmp_path / "store")
    store.path.mkdir()
    (store.path / "exports").symlink_to(exports)
    (finding,) = [f for f in verify_store(store).damaged if "/exports/" in f.path]
    assert Path(finding.path).name == target.name and "content changed" in finding.what

    again = create_extractor(device="cpu", exports=exports, **first.config.recipe())
    np.testing.assert_array_equal(again(images), clean)  # built again from the recipe: the clean vectors
    assert (exports / "damaged" / target.name).is_file() and "set aside" in caplog.text
    assert not [f for f in verify_store(store).damaged if "/exports/" in f.path]
