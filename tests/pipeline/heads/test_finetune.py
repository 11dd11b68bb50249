"""The fine-tuned head end to end on the CPU with small settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from features.networks.backbones import create_backbone
from pipeline.artifacts.image_inputs import ImageInputs
from pipeline.exceptions import ParamsError
from pipeline.heads.registry import HEADS, make_head
from tests.conftest import make_folder

SMALL = {
    "weights": "none",
    "image_size": 32,
    "epochs": 2,
    "batch_size": 4,
    "freeze": "layer3",
    "device": "cpu",
    "precision": "fp32",
    "verbose": False,
}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft")
    paths = make_folder(root, {"a": 8, "b": 8, "c": 8})
    labels = np.array([p.parent.name for p in paths])
    return np.array([str(p) for p in paths]), labels


@pytest.fixture(scope="module")
def fitted(images, tmp_path_factory):
    X, y = images
    store = tmp_path_factory.mktemp("store") / "s.h5"
    head = make_head("finetune", **SMALL, store=str(store), lr_find=True)
    return head.fit(X[::2], y[::2], eval_set=(X[1::2], y[1::2])), store


def test_short_cpu_run_end_to_end(fitted, images):
    head, store = fitted
    X, _ = images
    proba = head.predict_proba(X)
    assert proba.shape == (24, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert len(head.history_) >= 1 and "valid_loss" in head.history_[0]
    assert head.frozen_ == ["stem", "layer1", "layer2", "layer3"]
    assert 0 < head.lr_find_["suggested"] < 1 and head.max_lr_ == head.lr_find_["suggested"]
    assert not store.exists(), "fit wrote the shared store: only the stage records the probe's vectors"


def test_the_stage_records_the_probe_vectors_and_fit_only_reads_them(images, tmp_path):
    from features.hashing.digest import sha256_file

    X, y = images
    inputs = ImageInputs(X, keys=np.array([sha256_file(p) for p in X]))
    head = make_head("finetune", **{**SMALL, "epochs": 1}, store=str(tmp_path / "store"))
    assert head.record_fit_vectors(inputs).startswith("linear probe vectors of 24 train images: 24 computed")
    segments = sorted((tmp_path / "store").rglob("*.h5"))
    head.fit(inputs[::2], y[::2])  # a search's subset reads its rows
    assert sorted((tmp_path / "store").rglob("*.h5")) == segments and 0 < head.probe_accuracy_ <= 1
    assert "0 computed, 24 reused" in head.record_fit_vectors(inputs)
    assert make_head("finetune", **SMALL, linear_probe_init=False).record_fit_vectors(inputs) is None


def test_frozen_layers_do_not_move(images):
    X, y = images
    head = make_head("finetune", **{**SMALL, "epochs": 1}, linear_probe_init=False)
    initial = create_backbone("resnet50", "none", seed=0).model  # the head's own init
    head.fit(X, y)
    assert torch.equal(head.model_.features.layer3[0].conv1.weight.cpu(), initial.layer3[0].conv1.weight)
    assert not torch.equal(head.model_.features.layer4[0].conv1.weight.cpu(), initial.layer4[0].conv1.weight)


def test_save_load_gives_identical_predictions(fitted, images, tmp_path):
    head, _ = fitted
    X, _ = images
    head.save(tmp_path / "ft")
    assert (tmp_path / "ft" / "weights.pt").exists()
    loaded = HEADS["finetune"].load(tmp_path / "ft")
    np.testing.assert_allclose(loaded.predict_proba(X), head.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("balance", ["weights", "sampler"])
def test_class_imbalance_options_run(images, balance):
    X, y = images
    keep = np.r_[0:8, 8:11, 16:19]  # 8 / 3 / 3 images
    head = make_head("finetune", **{**SMALL, "epochs": 1}, balance=balance, linear_probe_init=False)
    assert head.fit(X[keep], y[keep]).predict(X[keep]).shape == (14,)
    targets = np.searchsorted(head.classes_, y[keep])
    counts = np.bincount(targets)
    if balance == "weights":  # every class carries the same total weight in the loss
        weight = head._loss(targets, torch.device("cpu")).weight.numpy()
        np.testing.assert_allclose(weight * counts, np.full(3, len(targets) / 3), rtol=1e-6)
    else:  # the sampler draws the 3-image classes as often as the 8-image one, on average
        sampler = head._loader(ImageInputs.of(X[keep]), True, targets).sampler
        per_epoch = np.mean([np.bincount(targets[list(sampler)], minlength=3) for _ in range(200)], axis=0)
        np.testing.assert_allclose(per_epoch, np.full(3, len(targets) / 3), atol=0.5)


def test_params_are_checked_at_fit_too(images):
    """A head built by hand with a bad value stops with the params message, not inside the network code."""
    X, y = images
    head = HEADS["finetune"](**{**SMALL, "freeze": "layer9"})
    with pytest.raises(
        ParamsError, match=r"heads\.finetune\.freeze: got 'layer9'; choose from \['none', 'stem'"
    ):
        head.fit(X, y)
