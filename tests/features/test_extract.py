"""extract(): reuse, failures, fingerprints, resume after kill -9, reuse across tasks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

from features import FeatureStore, create_extractor, extract, sha256_file
from tests.conftest import SMALL, make_folder, make_image


def test_computes_missing_then_reuses(tmp_path, image_folder, small_extractor):
    paths = sorted(image_folder.rglob("*.png"))
    store = FeatureStore(tmp_path / "s.h5")
    first = extract(paths, store, small_extractor, batch_size=4, progress=False)
    assert (first.computed, first.reused, first.failures) == (15, 0, [])
    second = extract(paths, store, small_extractor, batch_size=4, progress=False)
    assert (second.computed, second.reused) == (0, 15)
    vectors = store.get(small_extractor.fingerprint, second.keys)
    assert vectors.shape == (15, 2048) and np.isfinite(vectors).all()
    assert len({v.tobytes() for v in vectors}) == 15


def test_vectors_match_a_direct_forward_pass(tmp_path, small_extractor):
    from features import read_image

    path = make_image(tmp_path / "one.png", seed=3)
    store = FeatureStore(tmp_path / "s.h5")
    report = extract([path], store, small_extractor, num_workers=0, progress=False)
    prep = small_extractor.backbone.preprocessing
    direct = small_extractor(prep.to_uint8(read_image(path))[None])
    np.testing.assert_allclose(store.get(small_extractor.fingerprint, report.keys), direct, rtol=1e-5)


def test_identical_files_are_embedded_once(tmp_path, small_extractor):
    a = make_image(tmp_path / "a.png", seed=1)
    b = tmp_path / "copy.png"
    b.write_bytes(a.read_bytes())
    report = extract([a, b], FeatureStore(tmp_path / "s.h5"), small_extractor, progress=False)
    assert report.computed == 1 and report.keys[0] == report.keys[1]


def test_bad_files_are_listed_not_zero_filled(tmp_path, small_extractor):
    good = make_image(tmp_path / "good.png", seed=1)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "text.png"
    text.write_text("hello")
    missing = tmp_path / "missing.png"
    store = FeatureStore(tmp_path / "s.h5")
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
    store = FeatureStore(tmp_path / "s.h5")
    extract(paths, store, small_extractor, progress=False)
    assert extract(paths, store, bf16, progress=False).computed == 3


_KILLABLE = textwrap.dedent(
    """
    import sys
    from features import FeatureStore, create_extractor, extract
    extractor = create_extractor(weights="none", device="cpu", precision="fp32", resize={size}, crop={size})
    paths = sys.argv[2:]
    extract(paths, FeatureStore(sys.argv[1]), extractor, batch_size=1, num_workers=0, progress=False)
    """
)


def test_resume_after_kill_minus_nine_equals_uninterrupted_run(tmp_path, small_extractor):
    paths = [str(p) for p in make_folder(tmp_path / "imgs", {"a": 60, "b": 60})]
    path = tmp_path / "killed.h5"
    script = _KILLABLE.format(size=SMALL)
    proc = subprocess.Popen([sys.executable, "-c", script, str(path), *paths])
    fingerprint = small_extractor.fingerprint
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = FeatureStore(path).fingerprints().get(fingerprint, {}).get("count", 0) if path.exists() else 0
        if done >= 5:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    survived = FeatureStore(path).fingerprints()[fingerprint]["count"]
    assert 5 <= survived < len(paths), "the kill should land mid-extraction"

    # Batch size 1 throughout: oneDNN picks kernels by batch size, which moves the last bits.
    resumed = extract(paths, FeatureStore(path), small_extractor, batch_size=1, progress=False)
    assert resumed.reused == survived and resumed.computed == len(paths) - survived

    clean_store = FeatureStore(tmp_path / "clean.h5")
    clean = extract(paths, clean_store, small_extractor, batch_size=1, progress=False)
    np.testing.assert_array_equal(
        FeatureStore(path).get(fingerprint, resumed.keys), clean_store.get(fingerprint, clean.keys)
    )


def test_second_task_runs_the_network_only_on_new_images(tmp_path, small_extractor):
    store = FeatureStore(tmp_path / "shared.h5")
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
