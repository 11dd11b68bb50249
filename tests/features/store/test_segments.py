"""Store: addressing, segments and their publication, recovery, compaction, version 1."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal

import h5py
import numpy as np
import pytest

from features.exceptions import StoreError
from features.hashing.keys import to_raw
from features.store.base import Store
from features.store.failures import Failure
from features.store.open import open_store
from features.store.v1 import FORMAT as V1_FORMAT

SPEC = {"arch": "test"}


def _keys(n: int, prefix: str = "k") -> list[str]:
    return [hashlib.sha256(f"{prefix}{i}".encode()).hexdigest() for i in range(n)]


def _segment_files(store: Store, fingerprint: str = "fp", where: str = "") -> list:
    return sorted((store.path / fingerprint / where).glob("*.h5"))


def test_put_get_round_trip_in_request_order(tmp_path):
    store = open_store(tmp_path / "s")
    keys = _keys(10)
    vectors = np.arange(40, dtype=np.float32).reshape(10, 4)
    assert store.put("fp", SPEC, keys, vectors) == 10
    order = [7, 2, 9, 0, 2]
    np.testing.assert_array_equal(store.get("fp", [keys[i] for i in order]), vectors[order])
    np.testing.assert_array_equal(open_store(store.path).get("fp", keys[::-1]), vectors[::-1])


def test_put_skips_keys_already_stored(tmp_path):
    store = open_store(tmp_path / "s")
    keys = _keys(4)
    store.put("fp", SPEC, keys[:2], np.zeros((2, 4)))
    assert store.put("fp", SPEC, keys + keys[3:], np.ones((5, 4))) == 2
    np.testing.assert_array_equal(store.get("fp", keys)[:, 0], [0, 0, 1, 1])
    assert store.fingerprints()["fp"] == {**SPEC, "dim": 4, "count": 4}


def test_stored_keys_are_every_segments_keys_sorted(tmp_path):
    store = open_store(tmp_path / "s")
    keys = _keys(9)
    store.put("fp", SPEC, keys[:5], np.zeros((5, 4)))
    store.put("fp", SPEC, keys[3:], np.zeros((6, 4)))  # two segments, overlapping
    stored = open_store(store.path).stored_keys("fp")
    np.testing.assert_array_equal(stored.raw, to_raw(sorted(keys)))
    assert (stored.find(to_raw(_keys(3, "absent"))) == -1).all()
    assert len(store.stored_keys("other")) == 0


def test_other_fingerprint_never_reads_these_vectors(tmp_path):
    store = open_store(tmp_path / "s")
    keys = _keys(3)
    store.put("fp-a", SPEC, keys, np.ones((3, 4)))
    assert not store.contains("fp-b", keys).any()
    with pytest.raises(KeyError, match="fp-b"):
        store.get("fp-b", keys)
    store.put("fp-b", SPEC, keys, np.zeros((3, 4)))
    assert store.get("fp-a", keys).sum() == 12 and store.get("fp-b", keys).sum() == 0


def test_keys_must_be_hex_digests(tmp_path):
    with pytest.raises(StoreError, match="64 hex digits.*'not-a-key'"):
        open_store(tmp_path / "s").put("fp", SPEC, ["not-a-key"], np.ones((1, 4)))


def test_readers_see_published_segments_only(tmp_path):
    store = open_store(tmp_path / "s", max_bytes=4 * 16)  # 4 vectors of 4 floats
    keys = _keys(10)
    with store.writer("fp", SPEC) as writer:
        writer.put(keys[:3], np.ones((3, 4)))
        assert not store.contains("fp", keys[:3]).any()  # open, not published
        writer.put(keys[3:6], np.ones((3, 4)))  # 6 vectors >= max_bytes: published
        assert store.contains("fp", keys[:6]).all()
        writer.put(keys[6:], np.ones((4, 4)))
    assert store.contains("fp", keys).all() and len(_segment_files(store)) == 2
    assert _segment_files(store, where="open") == []


def test_a_segment_is_published_when_it_is_old_enough(tmp_path):
    store = open_store(tmp_path / "s", max_seconds=0.0)
    with store.writer("fp", SPEC) as writer:
        writer.put(_keys(2), np.ones((2, 4)))
        assert store.contains("fp", _keys(2)).all()


def _commit_then_hang(path: str, batches: int, ready) -> None:
    writer = open_store(path).writer("fp", SPEC)
    for b in range(batches):
        writer.put(_keys(3, f"batch{b}-"), np.full((3, 4), float(b)))
    ready.set()
    signal.pause()  # killed here, between two writes, before publishing


def test_a_writer_killed_between_writes_loses_nothing_it_committed(tmp_path):
    path = str(tmp_path / "s")
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_commit_then_hang, args=(path, 4, ready))
    proc.start()
    assert ready.wait(60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    store = open_store(path)
    assert store.fingerprints()["fp"]["count"] == 0 and len(_segment_files(store, where="open")) == 1
    store.put("fp", SPEC, _keys(1, "new"), np.ones((1, 4)))  # a new writer publishes the dead one's rows
    for b in range(4):
        assert (store.get("fp", _keys(3, f"batch{b}-")) == b).all()
    assert _segment_files(store, where="open") == []


def test_a_damaged_unpublished_segment_is_quarantined_and_published_ones_kept(tmp_path, caplog):
    store = open_store(tmp_path / "s")
    store.put("fp", SPEC, _keys(2), np.ones((2, 4)))
    torn = store.path / "fp" / "open" / "00000000000000000001-dead.h5"
    content = b"\x89HDF\r\n\x1a\n" + b"\x00" * 100  # a write cut short
    torn.write_bytes(content)
    store.put("fp", SPEC, _keys(2, "z"), np.ones((2, 4)))
    assert not torn.exists() and "damaged unpublished segment" in caplog.text
    kept = store.path / "quarantine" / f"fp-{torn.name}"
    assert kept.read_bytes() == content, "set aside as it was, never deleted"
    assert any("damaged unpublished segment" in line for line in store.incidents)  # for the run's last lines
    assert store.contains("fp", _keys(2) + _keys(2, "z")).all()


def test_a_quarantined_segment_that_cannot_be_salvaged_is_named_for_the_runs_last_lines(tmp_path):
    store = open_store(tmp_path / "s")
    store.put("fp", SPEC, _keys(2), np.ones((2, 4)))
    damaged, *_ = _segment_files(store)
    damaged.write_bytes(b"\x00" * 64)
    fresh = open_store(store.path)
    assert not fresh.contains("fp", _keys(2)).any()
    (incident,) = fresh.incidents
    assert f"segment {damaged.name}" in incident and "none of its rows could be salvaged" in incident


def test_a_damaged_published_segment_is_quarantined_and_the_rest_keeps_working(tmp_path, caplog):
    store = open_store(tmp_path / "s")
    store.put("fp", SPEC, _keys(2), np.ones((2, 4)))
    store.put("fp", SPEC, _keys(2, "z"), np.full((2, 4), 2.0))
    damaged, _ = _segment_files(store)
    damaged.write_bytes(b"\x00" * 64)
    fresh = open_store(store.path)
    assert fresh.contains("fp", _keys(2)).tolist() == [False, False]  # missing: the next run computes them
    assert (fresh.get("fp", _keys(2, "z")) == 2).all()
    assert "cannot be read" in caplog.text and (store.path / "quarantine" / f"fp-{damaged.name}").is_file()


def test_a_store_whose_creation_was_killed_is_created_again(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / ".store.json.4242.part").write_text("{")  # killed before its rename
    store = open_store(tmp_path / "s")
    store.put("fp", SPEC, _keys(1), np.ones((1, 4)))
    assert open_store(tmp_path / "s").contains("fp", _keys(1)).all()


def test_foreign_files_and_folders_are_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["x"] = [1, 2, 3]
    with pytest.raises(StoreError, match="not a feature store"):
        open_store(other)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"x")
    with pytest.raises(StoreError, match="not a feature store"):
        open_store(tmp_path / "photos").put("fp", SPEC, _keys(1), np.ones((1, 4)))


def test_refuses_non_finite_and_mismatched_vectors(tmp_path):
    store = open_store(tmp_path / "s")
    with pytest.raises(StoreError, match="non-finite"):
        store.put("fp", SPEC, _keys(1), np.array([[np.nan, 0, 0, 0]]))
    with pytest.raises(StoreError, match="2 keys"):
        store.put("fp", SPEC, _keys(2), np.ones((3, 4)))
    store.put("fp", SPEC, _keys(1), np.ones((1, 4)))
    with pytest.raises(StoreError, match="4-d"):
        store.put("fp", SPEC, _keys(1, "z"), np.ones((1, 5)))


def test_failures_are_recorded_once(tmp_path):
    store = open_store(tmp_path / "s")
    failure = Failure("a/b.jpg", "empty file (0 bytes)", _keys(1)[0])
    store.add_failures([failure])
    store.add_failures([failure, Failure("c.jpg", "truncated", "")])  # no key: nothing to address
    assert store.failures() == [failure]


def _writer(path: str, prefix: str, value: float) -> None:
    writer = open_store(path, max_bytes=7 * 16).writer("fp", SPEC)
    keys = _keys(60, prefix)
    with writer:
        for start in range(0, 60, 3):  # many small appends, publishing now and then
            writer.put(keys[start : start + 3], np.full((3, 4), value))


def test_processes_write_one_store_in_parallel(tmp_path):
    path = str(tmp_path / "s")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, p, v)) for p, v in [("a", 1.0), ("b", 2.0), ("c", 3.0)]]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    store = open_store(path)
    assert store.fingerprints()["fp"]["count"] == 180
    for prefix, value in [("a", 1.0), ("b", 2.0), ("c", 3.0)]:
        assert (store.get("fp", _keys(60, prefix)) == value).all()


def test_compaction_merges_segments_and_drops_duplicates(tmp_path):
    store = open_store(tmp_path / "s")
    vectors = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    keys = _keys(30)
    for start in range(0, 30, 5):
        store.put(
            "fp",
            SPEC,
            keys[start : start + 5],
            vectors[start : start + 5],
            [f"p{i}" for i in range(start, start + 5)],
        )
    # Two writers racing on one key leave it in two segments.
    with store.writer("fp", SPEC) as writer:
        writer.append(to_raw(keys[:1]), vectors[:1], [""], skip_stored=False)
    assert len(_segment_files(store)) == 7 and store.fingerprints()["fp"]["count"] == 31
    assert sum(len(keys) for keys, _, _ in store.rows("fp")) == 30  # each key once
    assert "7 segments -> 1 (30 rows)" in store.compact()
    assert len(_segment_files(store)) == 1 and store.fingerprints()["fp"]["count"] == 30
    fresh = open_store(store.path)
    np.testing.assert_array_equal(fresh.get("fp", keys[::-1]), vectors[::-1])
    keys_out, _, paths_out = next(fresh.rows("fp"))
    assert dict(zip(keys_out, paths_out, strict=True)) == {k: f"p{i}" for i, k in enumerate(keys)}


def test_compaction_merges_the_failure_records(tmp_path):
    store = open_store(tmp_path / "s")
    for i in range(3):  # one file per run
        store.add_failures([Failure(f"bad{i}.png", "cannot decode", f"{i:064x}")])
    store.add_failures([Failure("again.png", "other reason", f"{0:064x}")])  # known: not recorded
    before = store.failures()
    assert len(list((store.path / "failures").glob("*.h5"))) == 3
    assert "failures: 3 files -> 1 (3 images)" in store.compact()
    assert len(list((store.path / "failures").glob("*.h5"))) == 1
    assert open_store(store.path).failures() == before


def test_many_small_segments_are_merged_automatically(tmp_path):
    store = open_store(tmp_path / "s")
    for i in range(20):
        store.put("fp", SPEC, _keys(1, f"r{i}-"), np.ones((1, 4)))
    assert len(_segment_files(store)) < 16
    assert store.fingerprints()["fp"]["count"] == 20


def _v1_store(path, keys, vectors) -> None:
    """A store file as version 1 wrote it."""
    with h5py.File(path, "w") as h5:
        h5.attrs.update(format=V1_FORMAT, schema=1)
        group = h5.create_group("extractors/fp")
        group.attrs.update(spec='{"arch": "test", "dim": 4}', count=len(keys))
        group["keys"] = np.array(keys, dtype="S64")
        group["vectors"] = vectors
        group["paths"] = np.array([f"img{i}.jpg" for i in range(len(keys))], dtype=object).astype(
            h5py.string_dtype()
        )
        failures = h5.create_group("failures")
        failures.attrs["count"] = 1
        failures["keys"] = np.array(_keys(1, "bad"), dtype="S64")
        failures["paths"] = np.array(["bad.jpg"], dtype=h5py.string_dtype())
        failures["reasons"] = np.array(["truncated"], dtype=h5py.string_dtype())


def test_a_version_1_store_is_read_as_it_is_and_converted_by_one_command(tmp_path):
    from features.cli import main

    old = tmp_path / "features.h5"
    keys, vectors = _keys(5), np.arange(20, dtype=np.float32).reshape(5, 4)
    _v1_store(old, keys, vectors)
    before = old.read_bytes()
    v1 = open_store(old)
    np.testing.assert_array_equal(v1.get("fp", keys[::-1]), vectors[::-1])
    np.testing.assert_array_equal(v1.stored_keys("fp").raw, to_raw(sorted(keys)))
    with pytest.raises(StoreError, match=r"version-1 store.*python -m features convert"):
        v1.put("fp", SPEC, _keys(1, "new"), np.ones((1, 4)))
    assert main(["convert", str(old), str(tmp_path / "store")]) == 0
    new = open_store(tmp_path / "store")
    np.testing.assert_array_equal(new.get("fp", keys), vectors)
    assert new.failures() == [Failure("bad.jpg", "truncated", _keys(1, "bad")[0], decoder="")]  # v1 kept none
    assert next(new.rows("fp"))[2] == [f"img{i}.jpg" for i in range(5)]
    assert old.read_bytes() == before
