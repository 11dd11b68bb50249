"""open_store: one Store interface over both kinds of store, picked once by what is at the path."""

from __future__ import annotations

import numpy as np
import pytest

from features.exceptions import StoreError
from features.store.base import MissingVectors, Store, StoredVectors
from features.store.open import open_existing, open_store
from features.store.segments import SegmentStore
from features.store.v1 import V1Store, convert_v1
from tests.features.store.test_segments import SPEC, _keys, _v1_store


@pytest.fixture
def both(tmp_path) -> list[Store]:
    """The same vectors in a version-1 file and, converted, in a segment store."""
    keys, vectors = _keys(5), np.arange(20, dtype=np.float32).reshape(5, 4)
    _v1_store(tmp_path / "old.h5", keys, vectors)
    convert_v1(tmp_path / "old.h5", SegmentStore(tmp_path / "new"))
    return [open_store(tmp_path / "old.h5"), open_store(tmp_path / "new")]


def test_the_kind_is_picked_by_what_is_at_the_path(both, tmp_path):
    old, new = both
    assert type(old) is V1Store and type(new) is SegmentStore
    assert type(open_store(tmp_path / "not-yet")) is SegmentStore  # created on its first write
    assert not (tmp_path / "not-yet").exists()


def test_both_kinds_answer_the_interface_alike(both):
    keys = _keys(5)
    old, new = both
    for store in both:
        assert store.fingerprints()["fp"]["count"] == 5 and store.distinct("fp") == 5
        assert store.contains("fp", [keys[0], _keys(1, "x")[0]]).tolist() == [True, False]
        np.testing.assert_array_equal(store.get("fp", keys[::-1]), old.get("fp", keys[::-1]))
        np.testing.assert_array_equal(store.stored_keys("fp").raw, new.stored_keys("fp").raw)
        np.testing.assert_array_equal(StoredVectors(store, "fp", keys)[1:3], old.get("fp", keys[1:3]))
        with pytest.raises(MissingVectors, match="1 keys not stored under fp"):
            store.get("fp", _keys(1, "x"))
    assert [f.key for f in old.failures()] == [f.key for f in new.failures()]
    rows = [sorted(zip(*next(s.rows("fp"))[::2], strict=True)) for s in both]  # (key, path) pairs
    assert rows[0] == rows[1]


def test_only_the_segment_store_is_written_and_the_old_file_says_how_to_convert(both):
    old, new = both
    assert new.writable and not old.writable
    assert old.hash_cache() is None and old.exports() is None and old.segments() == []
    for write in (
        lambda: old.put("fp", SPEC, _keys(1, "n"), np.ones((1, 4))),
        lambda: old.add_failures([]),
        old.check_writable,
    ):
        with pytest.raises(StoreError, match=r"version-1 store.*features convert .*old\.h5 NEW_STORE_DIR"):
            write()
    assert new.put("fp", SPEC, _keys(1, "n"), np.ones((1, 4))) == 1


def test_a_command_that_only_reads_needs_a_store_there(tmp_path):
    with pytest.raises(StoreError, match=r"no store at .*absent"):
        open_existing(tmp_path / "absent")
