"""prepare and embed run as functions on a tiny folder."""

from __future__ import annotations

import csv
import dataclasses
import logging

import numpy as np
import pytest
from PIL import Image

from features.store.open import open_store
from pipeline.artifacts.embeddings import load_embeddings
from pipeline.commands import embed, prepare
from pipeline.data.params import DataParams, NearDuplicateParams
from pipeline.data.splits import read_splits
from pipeline.embedding.params import BackboneParams, EmbedParams
from pipeline.embedding.vectors import make_extractor
from pipeline.exceptions import DataError
from tests.conftest import SMALL, assert_same_vectors, make_picture


@pytest.fixture
def prepared(tmp_path, image_folder):
    (image_folder / "dogs" / "broken.png").write_bytes(b"\x89PNG garbage")
    data = DataParams(root=str(image_folder))
    splits, excluded = tmp_path / "data" / "splits.csv", tmp_path / "data" / "excluded.csv"
    prepare.run(params=data, splits_path=splits, excluded_path=excluded)
    return data, splits, excluded


def test_prepare_writes_splits_and_the_exclusions(prepared):
    _, splits, excluded = prepared
    rows = read_splits(splits)
    assert len(rows) == 15
    assert {(r.label, r.split) for r in rows} >= {("red fish ü", "train"), ("cats", "test")}
    with open(excluded, newline="") as handle:
        assert [r["path"] for r in csv.DictReader(handle)] == ["dogs/broken.png"]


def test_embed_keeps_splits_order_and_reuses_the_store(tmp_path, prepared, capsys):
    data, splits, _ = prepared
    backbone = BackboneParams(weights="none", resize=SMALL, crop=SMALL)
    params = EmbedParams(store=str(tmp_path / "store"), device="cpu", precision="fp32", batch_size=4)
    out = tmp_path / "emb.h5"
    embed.run(data=data, backbone=backbone, params=params, splits_path=splits, out=out)
    assert "15 computed, 0 reused" in capsys.readouterr().out

    emb = load_embeddings(out)
    rows = read_splits(splits)
    assert list(emb.paths) == [r.path for r in rows]
    assert [emb.classes[i] for i in emb.labels] == [r.label for r in rows]
    assert list(emb.split) == [r.split for r in rows]
    store = open_store(params.store)
    np.testing.assert_array_equal(emb.vectors, store.get(emb.fingerprint, [r.sha256 for r in rows]))

    embed.run(data=data, backbone=backbone, params=params, splits_path=splits, out=out)
    assert "0 computed, 15 reused" in capsys.readouterr().out


def test_embed_refuses_images_changed_since_prepare(tmp_path, prepared):
    data, splits, _ = prepared
    first = read_splits(splits)[0]
    (tmp_path / "images" / first.path).write_bytes(b"changed")
    params = EmbedParams(store=str(tmp_path / "store"))
    with pytest.raises(DataError, match="changed since prepare"):
        embed.run(
            data=data,
            backbone=BackboneParams(weights="none"),
            params=params,
            splits_path=splits,
            out=tmp_path / "e.h5",
        )


def test_prepare_keeps_near_duplicates_in_one_split(tmp_path, capsys):
    root = tmp_path / "images"
    for c, name in enumerate(("cats", "dogs")):
        for i in range(20):
            (root / name).mkdir(parents=True, exist_ok=True)
            make_picture(root / name / f"{i:02d}.png", 100 * c + i)
    for i in range(5):  # five enlarged, re-encoded copies, each beside its original
        Image.open(root / "cats" / f"{i:02d}.png").resize((210, 180)).save(
            root / "cats" / f"copy_{i}.jpg", quality=80
        )
    backbone = BackboneParams(weights="none", resize=SMALL, crop=SMALL)
    embed_params = EmbedParams(store=str(tmp_path / "store"), precision="fp32")
    splits = tmp_path / "splits.csv"

    def split_of(near: NearDuplicateParams) -> dict[str, str]:
        data = DataParams(root=str(root), near_duplicates=near)
        excluded = tmp_path / "excluded.csv"
        prepare.run(
            params=data, splits_path=splits, excluded_path=excluded, backbone=backbone, embed=embed_params
        )
        return {r.path: r.split for r in read_splits(splits)}

    plain = split_of(NearDuplicateParams())
    apart = sum(plain[f"cats/{i:02d}.png"] != plain[f"cats/copy_{i}.jpg"] for i in range(5))
    assert apart > 0  # the seeded split separates some copies from their originals
    grouped = split_of(NearDuplicateParams(group=True))
    assert all(grouped[f"cats/{i:02d}.png"] == grouped[f"cats/copy_{i}.jpg"] for i in range(5))
    assert f"{apart} images moved" in capsys.readouterr().out
    assert sum(grouped[p] != plain[p] for p in plain) == apart


def test_embed_on_ray_gives_the_local_engines_vectors(tmp_path, prepared, capsys, caplog, monkeypatch):
    ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
    caplog.set_level(logging.INFO, logger="pipeline")
    data, splits, _ = prepared
    backbone = BackboneParams(weights="none", resize=SMALL, crop=SMALL)
    local = EmbedParams(store=str(tmp_path / "local"), device="cpu", precision="fp32", batch_size=4)
    on_ray = EmbedParams(store=str(tmp_path / "ray"), precision="fp32", batch_size=4, engine="ray")
    embed.run(data=data, backbone=backbone, params=local, splits_path=splits, out=tmp_path / "a.h5")
    embed.run(data=data, backbone=backbone, params=on_ray, splits_path=splits, out=tmp_path / "b.h5")
    assert "on Ray" in caplog.text
    a, b = load_embeddings(tmp_path / "a.h5"), load_embeddings(tmp_path / "b.h5")
    assert b.fingerprint == a.fingerprint and b.recipe == a.recipe
    assert_same_vectors(b.vectors, a.vectors)  # the actors run one thread each

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray started with nothing to compute")

    monkeypatch.setattr(ray, "init", no_ray)  # runtime and precision given: the re-run plans without Ray
    pinned = dataclasses.replace(on_ray, runtime=a.recipe["runtime"])
    embed.run(data=data, backbone=backbone, params=pinned, splits_path=splits, out=tmp_path / "b.h5")
    assert "0 computed, 15 reused" in capsys.readouterr().out


def test_embed_writes_the_vectors_a_block_at_a_time(tmp_path, prepared, monkeypatch):
    from features.store.base import StoredVectors
    from pipeline.artifacts import embeddings as module

    data, splits, _ = prepared
    reads = []
    original = StoredVectors.__getitem__
    monkeypatch.setattr(
        StoredVectors, "__getitem__", lambda self, rows: reads.append(original(self, rows)) or reads[-1]
    )
    monkeypatch.setattr(module, "BLOCK", 4)
    backbone = BackboneParams(weights="none", resize=SMALL, crop=SMALL)
    params = EmbedParams(store=str(tmp_path / "store"), device="cpu", precision="fp32")
    embed.run(data=data, backbone=backbone, params=params, splits_path=splits, out=tmp_path / "e.h5")
    assert [len(r) for r in reads] == [4, 4, 4, 3]
    emb = load_embeddings(tmp_path / "e.h5")
    np.testing.assert_array_equal(emb.vectors, np.concatenate(reads))
    np.testing.assert_array_equal(emb.vectors, open_store(params.store).get(emb.fingerprint, list(emb.keys)))


def test_embed_at_int8_calibrates_on_train_images_that_the_recipe_names(tmp_path, prepared, capsys):
    pytest.importorskip("onnxruntime")
    data, splits, _ = prepared
    backbone = BackboneParams(weights="none", resize=SMALL, crop=SMALL)
    params = EmbedParams(store=str(tmp_path / "store"), precision="int8", calibration=4, batch_size=4)
    out = tmp_path / "emb.h5"
    embed.run(data=data, backbone=backbone, params=params, splits_path=splits, out=out)
    emb = load_embeddings(out)
    train = {r.sha256 for r in read_splits(splits) if r.split == "train"}
    calibration = emb.recipe["calibration"]
    assert len(calibration["keys"]) == 4 and set(calibration["keys"]) <= train
    assert emb.spec["precision"] == "int8" and emb.spec["calibration"]["images"] == 4
    # what robustness and predict rebuild is the very network embed ran
    again = make_extractor(backbone, params, open_store(params.store), calibration)
    rebuilt = emb.source.extractor("cpu", open_store(params.store).exports())
    assert again.fingerprint == emb.fingerprint == rebuilt.fingerprint
