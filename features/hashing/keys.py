"""Content keys as 32 raw bytes: conversion from and to hex, and lookup in a sorted key array."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..exceptions import StoreError

KEY_BYTES = 32

_HEX_DIGITS = set("0123456789abcdefABCDEF")
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def to_raw(keys: Sequence[str]) -> np.ndarray:
    """(n, 32) uint8 from n hex SHA-256 strings, decoded in one C call, not a loop per key."""
    if len(keys) == 0:
        return np.empty((0, KEY_BYTES), np.uint8)
    text = "".join(keys)
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    # fromhex skips whitespace, so a short result is a bad key too
    if len(text) != 2 * KEY_BYTES * len(keys) or len(raw) != KEY_BYTES * len(keys):
        bad = next(k for k in keys if len(k) != 2 * KEY_BYTES or not set(k) <= _HEX_DIGITS)
        raise StoreError(f"store keys are hex SHA-256 digests (64 hex digits); got {bad!r}")
    return np.frombuffer(raw, np.uint8).reshape(len(keys), KEY_BYTES)


def to_hex(raw: np.ndarray, chunk: int = 65_536) -> list[str]:
    """Lower-case hex strings from (n, 32) uint8 keys, a chunk at a time: beyond the strings
    themselves, memory does not grow with n (numpy's str dtype takes 4 bytes a character)."""
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    out: list[str] = []
    for start in range(0, len(raw), chunk):
        part = raw[start : start + chunk]
        chars = np.empty((len(part), 2 * KEY_BYTES), np.uint8)
        chars[:, 0::2], chars[:, 1::2] = _HEX[part >> 4], _HEX[part & 15]
        out += chars.view(f"S{2 * KEY_BYTES}").ravel().astype(str).tolist()
    return out


def hex_or_blank(raw: np.ndarray, known: np.ndarray) -> list[str]:
    """Hex keys of the rows of `raw`, "" where `known` is False."""
    keys = to_hex(raw)
    for position in np.flatnonzero(~known).tolist():
        keys[position] = ""
    return keys


def prefix(raw: np.ndarray) -> np.ndarray:
    """The first 8 bytes as big-endian uint64: sorting by it agrees with sorting the whole key."""
    return np.ascontiguousarray(raw[:, :8]).view(">u8").ravel().astype(np.uint64)


def sort_order(raw: np.ndarray) -> np.ndarray:
    """Indices that sort keys bytewise (a stable lexsort on the four 8-byte words)."""
    words = np.ascontiguousarray(raw).view(">u8").astype(np.uint64)
    return np.lexsort(words.T[::-1])


class SortedKeys:
    """(n, 32) keys sorted by their first 8 bytes, found by binary search on those bytes."""

    def __init__(self, raw: np.ndarray, prefixes: np.ndarray | None = None):
        self.raw = np.ascontiguousarray(raw, dtype=np.uint8)
        self._prefix = prefix(self.raw) if prefixes is None else prefixes

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def nbytes(self) -> int:
        return self.raw.nbytes + self._prefix.nbytes

    def find(self, queries: np.ndarray) -> np.ndarray:
        """Position of each query key, or -1 where absent."""
        if len(self.raw) == 0 or len(queries) == 0:
            return np.full(len(queries), -1, dtype=np.int64)
        q_prefix = prefix(queries)
        # searching in sorted order reuses each search's bounds: 3x faster on a million keys
        order = np.argsort(q_prefix)
        pos = np.empty(len(queries), np.int64)
        pos[order] = np.searchsorted(self._prefix, q_prefix[order], side="left")
        inside = pos < len(self.raw)
        at = np.where(inside, pos, 0)
        same_prefix = inside & (self._prefix[at] == q_prefix)
        found = same_prefix & (self.raw[at] == queries).all(axis=1)
        result = np.where(found, pos, -1)
        # Keys sharing their first 8 bytes (about 1 in 10^7 at 10^6 keys): walk the run.
        for i in np.flatnonzero(same_prefix & ~found):
            j = pos[i] + 1
            while j < len(self.raw) and self._prefix[j] == q_prefix[i]:
                if (self.raw[j] == queries[i]).all():
                    result[i] = j
                    break
                j += 1
        return result


def merge(runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[SortedKeys, np.ndarray]:
    """Merge runs of (sorted keys, a label per key) into one SortedKeys and its labels. The
    sort is stable: a key present in several runs is found with its earliest run's label."""
    if not runs:
        return SortedKeys(np.empty((0, KEY_BYTES), np.uint8)), np.empty(0, np.int64)
    raw = np.concatenate([keys for keys, _ in runs])
    labels = np.concatenate([label for _, label in runs])
    prefixes = prefix(raw)
    order = np.argsort(prefixes, kind="stable")  # timsort: near linear on a few sorted runs
    return SortedKeys(raw[order], prefixes[order]), labels[order]
