"""On the real Caltech subset with random-init features, every head beats chance widely."""

from __future__ import annotations

import numpy as np
import pytest

from features import FeatureStore, create_extractor, extract
from pipeline.data.params import SplitParams
from pipeline.data.scan import scan_folder
from pipeline.data.splits import stratified_split
from pipeline.heads.registry import make_head

pytestmark = pytest.mark.slow  # every head on the 1184 real images

CHANCE = 1 / 22


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    items = scan_folder(SHARED_DATA).items
    split = np.array(stratified_split([i.label for i in items], SplitParams(), seed=0))
    paths = np.array([str(SHARED_DATA / i.path) for i in items])
    extractor = create_extractor(weights="none", device="cpu")
    store = FeatureStore(tmp_path_factory.mktemp("store") / "s.h5")
    report = extract(paths, store, extractor, progress=False)
    vectors = store.get(extractor.fingerprint, report.keys)
    labels = np.array([i.label for i in items])
    return vectors, paths, labels, split, store


@pytest.mark.parametrize("name", ["mlp", "glmnet", "knn", "logreg"])
def test_embedding_heads_beat_chance_widely(subset, name):
    vectors, _, labels, split, _ = subset
    train, test = split == "train", split == "test"
    head = make_head(name).fit(vectors[train], labels[train])
    assert head.score(vectors[test], labels[test]) > 5 * CHANCE


def test_finetune_beats_chance_widely_with_cpu_settings(subset):
    _, paths, labels, split, store = subset
    train, valid, test = split == "train", split == "valid", split == "test"
    head = make_head(
        "finetune",
        weights="none",
        image_size=112,
        epochs=3,
        freeze="layer3",
        max_lr=0.001,
        store=str(store.path),
        verbose=False,
    )
    head.fit(paths[train], labels[train], eval_set=(paths[valid], labels[valid]))
    assert head.score(paths[test], labels[test]) > 4 * CHANCE
