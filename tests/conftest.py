"""Shared fixtures: tiny synthetic image folders and a small-input real extractor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "caltech101-22"
SMALL = 64  # pixels: a real ResNet-50 on small inputs keeps the tests fast on 2 cores


def make_image(path: Path, seed: int, size=(48, 40), fmt: str | None = None) -> Path:
    """A random-colour picture with a class-dependent tint, saved in the format of `path`."""
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt)
    return path


def make_picture(path, seed: int) -> None:
    """A smooth random scene (colour blobs on a gradient), like a photo rather than noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((140, 120), Image.BICUBIC)
    pixels = np.asarray(image).copy()
    for _ in range(3):
        y, x, r = rng.integers(10, 110), rng.integers(10, 130), rng.integers(6, 20)
        yy, xx = np.ogrid[:120, :140]
        pixels[(yy - y) ** 2 + (xx - x) ** 2 < r * r] = rng.integers(0, 256, 3)
    Image.fromarray(pixels).save(path)


def assert_same_vectors(actual: np.ndarray, desired: np.ndarray) -> None:
    """Vectors of one network computed with another thread count, which sums in another order:
    float32 round-off scales with the activations summed, so the absolute tolerance follows the
    vectors' largest value rather than each element's own."""
    np.testing.assert_allclose(actual, desired, rtol=1e-4, atol=1e-5 * float(np.abs(desired).max()))


def make_folder(root: Path, classes: dict[str, int], start_seed: int = 0) -> list[Path]:
    """`root/<class>/img_NN.png` with `n` distinct images per class."""
    paths, seed = [], start_seed
    for name, count in classes.items():
        for i in range(count):
            paths.append(make_image(root / name / f"img_{i:02d}.png", seed))
            seed += 1
    return paths


def embedded_task(tmp: Path, **embed_params) -> tuple[Path, Path, str]:
    """A tiny task in `tmp`: 3 classes of 8 synthetic images, prepared (seeded split) and embedded
    by a random-init ResNet-50 at SMALL px on the CPU in fp32; (images, embeddings.h5, store)."""
    from pipeline.commands import embed, prepare
    from pipeline.data.params import DataParams
    from pipeline.embedding.params import BackboneParams, EmbedParams

    images = tmp / "images"
    make_folder(images, {"a": 8, "b": 8, "c": 8})
    data = DataParams(root=str(images))
    prepare.run(params=data, splits_path=tmp / "splits.csv", excluded_path=tmp / "excluded.csv")
    backbone = BackboneParams(weights="none", resize=SMALL, crop=SMALL)
    params = EmbedParams(
        store=str(tmp / "store"), device="cpu", precision="fp32", batch_size=8, **embed_params
    )
    embed.run(data=data, backbone=backbone, params=params, splits_path=tmp / "splits.csv", out=tmp / "emb.h5")
    return images, tmp / "emb.h5", params.store


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    make_folder(root, {"cats": 5, "dogs": 5, "red fish ü": 5})
    return root


@pytest.fixture(scope="session")
def small_extractor():
    from features.networks.extractor import create_extractor

    return create_extractor(weights="none", device="cpu", precision="fp32", resize=SMALL, crop=SMALL)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def dvc_project(tmp_path_factory) -> Path:
    """One small DVC project for tests/test_dvc.py and tests/test_report.py, so that the whole
    pipeline runs once for both; a test that changes it puts it back (tests/dvc_project.py)."""
    from tests.dvc_project import make_project

    return make_project(tmp_path_factory.mktemp("dvc"))


@pytest.fixture(scope="session")
def first_repro(dvc_project: Path) -> str:
    """What the project's first `dvc repro` printed (every stage ran)."""
    from tests.dvc_project import sh

    return sh(dvc_project, "dvc", "repro")


@pytest.fixture
def reproduced(dvc_project: Path, first_repro: str) -> Path:
    return dvc_project
