"""Near-duplicates: planted resized and re-encoded copies found through real embeddings, and kept together."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from features.extraction.extract import extract
from features.hashing.digest import sha256_file
from features.store.open import open_store
from pipeline.analysis.near_duplicates import find_leakage, groups, similar_pairs, whitened
from pipeline.data.splits import keep_groups_together
from tests.conftest import make_picture


@pytest.fixture(scope="module")
def planted(tmp_path_factory, small_extractor):
    root = tmp_path_factory.mktemp("near")
    paths = []
    for i in range(120):
        paths.append(root / f"img_{i:03d}.png")
        make_picture(paths[-1], i)
    copies = {}  # copy index -> original index
    for i, make in enumerate(
        [
            lambda im: im.resize((210, 180)),  # enlarged 1.5x
            lambda im: im.resize((112, 96)),  # reduced 0.8x
            lambda im: im,  # re-encoded as JPEG
            lambda im: im.resize((175, 150)),
        ]
    ):
        original = Image.open(paths[i * 7])
        copy = root / f"copy_{i}.jpg"
        make(original).save(copy, quality=80)
        copies[len(paths)] = i * 7
        paths.append(copy)
    store = open_store(root / "store")
    extract([str(p) for p in paths], store, small_extractor, progress=False)
    vectors = store.get(small_extractor.fingerprint, [sha256_file(p) for p in paths])
    return paths, vectors, copies


def test_planted_copies_are_found_and_nothing_else(planted):
    paths, vectors, copies = planted
    found = {(i, j) for i, j, _ in similar_pairs(whitened(vectors, 128), 0.8)}
    assert found == {(original, copy) for copy, original in copies.items()}


def test_cross_split_pairs_are_reported(planted):
    paths, vectors, copies = planted
    splits = np.array(["train"] * len(paths))
    splits[list(copies)] = "test"  # every copy in test, its original in train
    splits[list(copies)[0]] = "train"  # except one
    result = find_leakage(vectors, [p.name for p in paths], splits, ["x"] * len(paths), 0.8, 128, False)
    assert (result.pairs, result.groups, len(result.cross_split)) == (4, 4, 3)
    assert all({p.split_a, p.split_b} == {"train", "test"} for p in result.cross_split)
    assert all(p.b.startswith("copy_") or p.a.startswith("copy_") for p in result.cross_split)


def test_the_blocked_scan_finds_every_pair_a_float64_all_pairs_product_finds():
    rng = np.random.default_rng(0)
    unit = rng.normal(size=(2500, 16))  # three blocks, the last one short
    unit[1500:1510] = unit[:10] + rng.normal(scale=0.1, size=(10, 16))  # ten close pairs across blocks
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    found = similar_pairs(unit, 0.9)
    full = unit @ unit.T
    i, j = np.nonzero(np.triu(full > 0.9, k=1))
    assert sorted((a, b) for a, b, _ in found) == sorted(zip(i.tolist(), j.tolist(), strict=True))
    assert {(i, i + 1500) for i in range(10)} <= {(a, b) for a, b, _ in found}
    assert [s for *_, s in found] == sorted((s for *_, s in found), reverse=True)
    np.testing.assert_allclose([s for *_, s in found], [full[a, b] for a, b, _ in found], rtol=0, atol=1e-12)


def test_groups_follow_chains_and_stay_in_the_earliest_split():
    ids = groups(6, [(0, 1, 0.9), (1, 4, 0.9), (2, 3, 0.95)])
    assert ids[0] == ids[1] == ids[4] and ids[2] == ids[3] and len(set(ids)) == 3
    assignment, moved = keep_groups_together(["test", "valid", "test", "valid", "test", "train"], ids)
    assert assignment == ["valid", "valid", "valid", "valid", "valid", "train"] and moved == 3


def test_the_graph_finds_the_pairs_the_exact_scan_finds():
    rng = np.random.default_rng(1)
    unit = rng.normal(size=(5000, 32))
    copies = rng.choice(5000, size=(60, 2), replace=False)
    unit[copies[:, 1]] = unit[copies[:, 0]] + rng.normal(scale=0.15, size=(60, 32))
    unit[100:103] = unit[99] + rng.normal(scale=0.05, size=(3, 32))  # a group of four
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    exact = similar_pairs(unit, 0.9, method="exact")
    approximate = similar_pairs(unit, 0.9, method="approximate")
    assert len(exact) >= 60 and approximate == exact  # the same pairs, cosines and order
