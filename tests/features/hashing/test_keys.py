"""Raw keys: hex round trip, sorted lookup including keys that share their first 8 bytes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from features.exceptions import StoreError
from features.hashing.keys import merge, sort_order, to_hex, to_raw


def test_hex_round_trip():
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(50)]
    raw = to_raw(keys)
    assert raw.shape == (50, 32) and bytes(raw[3]) == bytes.fromhex(keys[3])
    assert to_hex(raw) == keys
    assert to_raw([k.upper() for k in keys]).tolist() == raw.tolist()


@pytest.mark.parametrize("bad", ["abc", "g" * 64, "0" * 63 + "é"])
def test_bad_keys_are_named(bad):
    with pytest.raises(StoreError, match="64 hex digits"):
        to_raw(["0" * 64, bad])


def test_merged_lookup_finds_every_key_even_with_shared_prefixes():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(300, 32), dtype=np.uint8)
    raw[100:110, :8] = raw[0, :8]  # ten keys that share their first 8 bytes with key 0
    runs = []
    for start in (0, 150):  # two segments, each sorted on its own
        part = raw[start : start + 150]
        order = sort_order(part)
        runs.append((part[order], start + order))
    keys, label = merge(runs)
    np.testing.assert_array_equal(label[keys.find(raw)], np.arange(300))
    absent = rng.integers(0, 256, size=(20, 32), dtype=np.uint8)
    absent[:5, :8] = raw[0, :8]  # same prefix, different key
    assert (keys.find(absent) == -1).all()


def test_a_key_in_two_runs_is_found_in_the_first():
    raw = np.arange(64, dtype=np.uint8).reshape(2, 32)
    keys, label = merge([(raw, np.array([10, 11])), (raw[:1], np.array([20]))])
    assert label[keys.find(raw[:1])][0] == 10
