"""FeatureStore: addressing, commit point, damage detection, concurrent writers."""

from __future__ import annotations

import multiprocessing

import h5py
import numpy as np
import pytest

from features import Failure, FeatureStore, StoreError

SPEC = {"arch": "test", "dim": 4}


def _keys(n: int, prefix: str = "k") -> list[str]:
    return [f"{prefix}{i:063d}"[-64:] for i in range(n)]


def test_put_get_round_trip_in_request_order(tmp_path):
    store = FeatureStore(tmp_path / "s.h5")
    keys = _keys(10)
    vectors = np.arange(40, dtype=np.float32).reshape(10, 4)
    assert store.put("fp", SPEC, keys, vectors) == 10
    order = [7, 2, 9, 0, 2]
    np.testing.assert_array_equal(store.get("fp", [keys[i] for i in order]), vectors[order])


def test_put_skips_keys_already_stored(tmp_path):
    store = FeatureStore(tmp_path / "s.h5")
    keys = _keys(4)
    store.put("fp", SPEC, keys[:2], np.zeros((2, 4)))
    added = store.put("fp", SPEC, keys, np.ones((4, 4)))
    assert added == 2
    np.testing.assert_array_equal(store.get("fp", keys)[:, 0], [0, 0, 1, 1])
    assert store.fingerprints()["fp"]["count"] == 4


def test_other_fingerprint_never_reads_these_vectors(tmp_path):
    store = FeatureStore(tmp_path / "s.h5")
    keys = _keys(3)
    store.put("fp-a", SPEC, keys, np.ones((3, 4)))
    assert not store.contains("fp-b", keys).any()
    with pytest.raises(KeyError, match="fp-b"):
        store.get("fp-b", keys)
    store.put("fp-b", SPEC, keys, np.zeros((3, 4)))
    assert store.get("fp-a", keys).sum() == 12 and store.get("fp-b", keys).sum() == 0


def test_rows_past_the_commit_point_are_ignored_and_overwritten(tmp_path):
    path = tmp_path / "s.h5"
    store = FeatureStore(path)
    keys = _keys(4)
    store.put("fp", SPEC, keys[:2], np.ones((2, 4)))
    # What a writer killed mid-batch leaves: rows written, count not raised.
    with h5py.File(path, "a") as h5:
        group = h5["extractors/fp"]
        for name in ("keys", "vectors"):
            group[name].resize(4, axis=0)
        group["keys"][2:4] = np.array(keys[2:], dtype="S64")
        group["vectors"][2:4] = 99.0
    fresh = FeatureStore(path)
    assert list(fresh.contains("fp", keys)) == [True, True, False, False]
    fresh.put("fp", SPEC, keys[2:], np.full((2, 4), 5.0))
    np.testing.assert_array_equal(FeatureStore(path).get("fp", keys)[:, 0], [1, 1, 5, 5])


def test_damaged_file_names_the_recovery(tmp_path):
    path = tmp_path / "s.h5"
    FeatureStore(path).put("fp", SPEC, _keys(2), np.ones((2, 4)))
    data = bytearray(path.read_bytes())
    data[:64] = b"\x00" * 64  # wipe the superblock
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"move it aside .*\.damaged"):
        FeatureStore(path).contains("fp", _keys(2))


def test_foreign_hdf5_file_is_refused(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5["x"] = [1, 2, 3]
    with pytest.raises(StoreError, match="not a feature store"):
        FeatureStore(path).put("fp", SPEC, _keys(1), np.ones((1, 4)))


def test_refuses_non_finite_and_mismatched_vectors(tmp_path):
    store = FeatureStore(tmp_path / "s.h5")
    with pytest.raises(StoreError, match="non-finite"):
        store.put("fp", SPEC, _keys(1), np.array([[np.nan, 0, 0, 0]]))
    with pytest.raises(StoreError, match="2 keys"):
        store.put("fp", SPEC, _keys(2), np.ones((3, 4)))
    store.put("fp", SPEC, _keys(1), np.ones((1, 4)))
    with pytest.raises(StoreError, match="4-d"):
        store.put("fp", SPEC, _keys(1, "z"), np.ones((1, 5)))


def test_failures_are_recorded_once(tmp_path):
    store = FeatureStore(tmp_path / "s.h5")
    failure = Failure("a/b.jpg", "empty file (0 bytes)", _keys(1)[0])
    store.add_failures([failure])
    store.add_failures([failure])
    assert store.failures() == [failure]


def _writer(path: str, prefix: str, value: float) -> None:
    store = FeatureStore(path)
    keys = _keys(60, prefix)
    for start in range(0, 60, 3):  # many small commits, interleaving with the other writer
        store.put("fp", SPEC, keys[start : start + 3], np.full((3, 4), value))


def test_two_processes_writing_one_store_are_serialized(tmp_path):
    path = str(tmp_path / "s.h5")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, p, v)) for p, v in [("a", 1.0), ("b", 2.0)]]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    store = FeatureStore(path)
    assert store.fingerprints()["fp"]["count"] == 120
    assert (store.get("fp", _keys(60, "a")) == 1.0).all()
    assert (store.get("fp", _keys(60, "b")) == 2.0).all()
