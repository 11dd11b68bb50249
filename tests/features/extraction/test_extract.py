"""extract(): reuse, failures, fingerprints, resume after kill -9, reuse across tasks."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import shutil
import signal
import time

import numpy as np

from features.extraction.claims import Claims, Verdict
from features.extraction.extract import extract
from features.hashing.digest import sha256_file
from features.hashing.keys import SortedKeys, to_raw
from features.networks.extractor import create_extractor
from features.store.open import open_store
from tests.conftest import SMALL, make_folder, make_image


def test_computes_missing_then_reuses(tmp_path, image_folder, small_extractor):
    paths = sorted(image_folder.rglob("*.png"))
    store = open_store(tmp_path / "s")
    first = extract(paths, store, small_extractor, batch_size=4, progress=False)
    assert (first.computed, first.reused, first.failures) == (15, 0, [])
    second = extract(paths, store, small_extractor, batch_size=4, progress=False)
    assert (second.computed, second.reused) == (0, 15)
    vectors = store.get(small_extractor.fingerprint, second.keys)
    assert vectors.shape == (15, 2048) and np.isfinite(vectors).all()
    assert len({v.tobytes() for v in vectors}) == 15


def test_vectors_match_a_direct_forward_pass(tmp_path, small_extractor):
    from features.images.reading import read_image

    path = make_image(tmp_path / "one.png", seed=3)
    store = open_store(tmp_path / "s")
    report = extract([path], store, small_extractor, num_workers=0, progress=False)
    prep = small_extractor.backbone.preprocessing
    direct = small_extractor(prep.to_uint8(read_image(path))[None])
    np.testing.assert_allclose(store.get(small_extractor.fingerprint, report.keys), direct, rtol=1e-5)


def test_identical_files_are_embedded_once(tmp_path, small_extractor):
    a = make_image(tmp_path / "a.png", seed=1)
    b = tmp_path / "copy.png"
    b.write_bytes(a.read_bytes())
    report = extract([a, b], open_store(tmp_path / "s"), small_extractor, progress=False)
    assert report.computed == 1 and report.keys[0] == report.keys[1]
    assert report.copies == 1
    assert "1 computed, 0 reused, 1 copies of another file given, 0 failed" in report.summary()


def test_bad_files_are_listed_not_zero_filled(tmp_path, small_extractor):
    good = make_image(tmp_path / "good.png", seed=1)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "text.png"
    text.write_text("hello")
    missing = tmp_path / "missing.png"
    store = open_store(tmp_path / "s")
    report = extract([good, empty, text, missing], store, small_extractor, progress=False)
    assert report.computed == 1
    reasons = {os.path.basename(f.path): f.reason for f in report.failures}
    assert set(reasons) == {"empty.jpg", "text.png", "missing.png"}
    assert "empty" in reasons["empty.jpg"] and "cannot read" in reasons["missing.png"]
    assert report.ok_keys == [sha256_file(good)]
    assert not store.contains(small_extractor.fingerprint, [sha256_file(text)]).any()
    assert {os.path.basename(f.path) for f in store.failures()} == {"empty.jpg", "text.png"}


def test_another_precision_is_another_fingerprint(tmp_path, image_folder, small_extractor):
    bf16 = create_extractor(weights="none", device="cpu", precision="bf16", resize=SMALL, crop=SMALL)
    assert bf16.fingerprint != small_extractor.fingerprint
    paths = sorted(image_folder.rglob("*.png"))[:3]
    store = open_store(tmp_path / "s")
    extract(paths, store, small_extractor, progress=False)
    assert extract(paths, store, bf16, progress=False).computed == 3


def _extract_into(store: str, paths: list[str], started) -> None:
    extractor = create_extractor("resnet18", "none", "cpu", "fp32", resize=KILL_CROP, crop=KILL_CROP)
    started.set()
    extract(paths, open_store(store), extractor, batch_size=1, num_workers=0, progress=False)


KILL_CROP = 32  # tiny crops and batch size 1: the store's writes are a large share of the time


def test_kill_minus_nine_at_50_random_moments_never_damages_or_loses(tmp_path):
    """Each kill lands anywhere: inside an append, a publish, a recovery or between them."""
    paths = [str(p) for p in make_folder(tmp_path / "imgs", {"a": 12, "b": 12})]
    paths.append(paths[0])  # a duplicate
    (tmp_path / "imgs" / "broken.png").write_bytes(b"\x89PNG not really")
    paths.append(str(tmp_path / "imgs" / "broken.png"))
    extractor = create_extractor("resnet18", "none", "cpu", "fp32", resize=KILL_CROP, crop=KILL_CROP)
    clean_store = open_store(tmp_path / "clean")
    start = time.monotonic()
    clean = extract(paths, clean_store, extractor, batch_size=1, num_workers=0, progress=False)
    run_seconds = time.monotonic() - start
    expected = dict(zip(clean.ok_keys, clean_store.get(extractor.fingerprint, clean.ok_keys), strict=True))

    ctx = multiprocessing.get_context("forkserver")  # a child starts in milliseconds, torch loaded
    ctx.set_forkserver_preload(["features"])
    store_path, rng, kills, stored_before = tmp_path / "killed", random.Random(0), 0, 0
    left_open = 0  # kills that left a writer's unpublished segment for the next run to recover
    while kills < 50:
        started = ctx.Event()
        child = ctx.Process(target=_extract_into, args=(str(store_path), paths, started))
        child.start()
        assert started.wait(60)
        child.join(rng.uniform(0, 1.2 * run_seconds))  # returns early when the child finishes
        if child.exitcode is None:
            os.kill(child.pid, signal.SIGKILL)
            kills += 1
        child.join()
        left_open += any((store_path / extractor.fingerprint / "open").glob("*.h5"))
        store = open_store(store_path)  # opens, whatever the kill interrupted
        spec = store.fingerprints().get(extractor.fingerprint, {"count": 0})
        keys = [k for k in expected if store.contains(extractor.fingerprint, [k])[0]]
        assert len(keys) >= stored_before, "published vectors were lost"
        if keys:
            np.testing.assert_allclose(
                store.get(extractor.fingerprint, keys), [expected[k] for k in keys], rtol=1e-5, atol=1e-6
            )
        stored_before = len(keys)
        if (
            spec["count"] == len(expected) and not child.exitcode
        ):  # finished: start again, so kills land mid-run
            shutil.rmtree(store_path)
            stored_before = 0

    assert left_open >= 10, f"only {left_open} of {kills} kills landed while a writer was writing"
    resumed = extract(paths, open_store(store_path), extractor, batch_size=1, num_workers=0, progress=False)
    assert resumed.ok_keys == clean.ok_keys and [f.path for f in resumed.failures] == [paths[-1]]
    np.testing.assert_allclose(
        open_store(store_path).get(extractor.fingerprint, resumed.ok_keys),
        clean_store.get(extractor.fingerprint, clean.ok_keys),
        rtol=1e-5,
        atol=1e-6,
    )


def test_second_task_runs_the_network_only_on_new_images(tmp_path, small_extractor):
    store = open_store(tmp_path / "shared.h5")
    fine = make_folder(tmp_path / "fine", {"cat": 4, "dog": 4, "fox": 4})
    assert extract(fine, store, small_extractor, progress=False).computed == 12

    # Task two: the same images relabelled into coarse classes (files copied elsewhere).
    coarse = []
    for i, src in enumerate(fine):
        dst = tmp_path / "coarse" / ("pet" if i < 8 else "wild") / f"{i}.png"
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
        coarse.append(dst)
    relabelled = extract(coarse, store, small_extractor, progress=False)
    assert (relabelled.computed, relabelled.reused) == (0, 12)

    # Task three: half the old images plus five new ones.
    new = make_folder(tmp_path / "new", {"owl": 5}, start_seed=1000)
    mixed = extract(fine[:6] + new, store, small_extractor, progress=False)
    assert (mixed.computed, mixed.reused) == (5, 6)


def test_a_retried_batch_gets_its_own_claims_back():
    keys = [hashlib.sha256(bytes([i])).hexdigest() for i in range(4)]
    stored, planned = (SortedKeys(to_raw(sorted(k))) for k in ([keys[0]], [keys[1]]))
    claims = Claims(stored, planned)
    stored_, repeated, embed = Verdict.STORED, Verdict.REPEATED, Verdict.EMBED
    assert claims.claim(keys, [10, 11, 12, 13]) == [stored_, repeated, embed, embed]
    assert claims.claim(keys[2:], [12, 13]) == [embed, embed]  # an actor died; Ray runs the batch again
    assert claims.claim(keys[2:], [14, 15]) == [repeated, repeated]  # other files, same bytes
