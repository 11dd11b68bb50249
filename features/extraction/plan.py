"""The plan: which files an engine must decode, decided once from the keys known and the store."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..exceptions import StoreError
from ..hashing.cache import FileState, hash_files, lookup_files, stale_states
from ..hashing.keys import KEY_BYTES, SortedKeys, hex_or_blank, sort_order, to_raw
from ..store.base import Store, read_only
from ..store.failures import Failure
from .report import ExtractionReport


@dataclass(frozen=True)
class Plan:
    """What an engine must decode, decided once before any image is read.

    `todo` holds the position of each distinct known key the store lacks, and of each file
    in `stale`, whose key its decoder learns from the bytes it reads (the hash cache did not
    know it unchanged). Nothing here changes while the engines run. Held in arrays beside the
    caller's own listing (not copied): about 120 bytes per image at most.
    """

    fingerprint: str
    paths: Sequence[str | os.PathLike]  # the caller's listing
    raw: np.ndarray  # (n, 32) uint8 keys; zero rows where `known` is False
    known: np.ndarray  # (n,) bool: the key is known (given, or vouched for by the hash cache)
    todo: np.ndarray  # sorted positions to decode
    stale: np.ndarray  # sorted positions whose key the decoders learn from the bytes
    states: np.ndarray  # (len(stale), 4) int64: each one's FileState when planned
    planned: SortedKeys  # the distinct keys known when planned
    reused: int  # of those, how many the store holds
    unreadable: list[Failure]  # files that could not even be stat-ed

    def path(self, position: int) -> str:
        return os.fspath(self.paths[position])

    def is_stale(self, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        """Which of `positions` are in `stale` (bool mask)."""
        if not len(self.stale):
            return np.zeros(len(positions), bool)
        at = np.searchsorted(self.stale, positions)
        return (at < len(self.stale)) & (self.stale[np.minimum(at, len(self.stale) - 1)] == positions)

    def stale_states(self) -> Iterator[tuple[int, FileState]]:
        return stale_states(self.stale, self.states)

    def empty_report(self) -> ExtractionReport:
        """The report before any batch: what planning counted (reuse, unreadable files)."""
        keys = hex_or_blank(self.raw, self.known)
        return ExtractionReport(self.fingerprint, keys, reused=self.reused, failures=list(self.unreadable))

    def known_keys(self, store: Store) -> tuple[SortedKeys, SortedKeys]:
        """What `Claims` starts from: the keys stored, and those this plan knew already."""
        return store.stored_keys(self.fingerprint), self.planned


def plan_extraction(
    paths: Sequence[str | os.PathLike], store: Store, fingerprint: str, keys: Sequence[str] | None
) -> Plan:
    """Key every file whose key is known (given, or from the store's hash cache for an unchanged
    file), and keep the first position of each distinct key the store lacks: duplicates and
    stored images are never decoded. Files the cache does not know unchanged are not hashed
    here but left in `stale` for the decoders, which read them anyway.

    A store this process cannot write is planned without decoding: the files the cache cannot
    vouch for are hashed first, and if any image has no vector the plan stops there, before
    a single image is decoded (StoreError naming the store)."""
    unreadable: list[Failure] = []
    stale, states = np.empty(0, np.int64), np.empty((0, 4), np.int64)
    writable = store.writable
    if keys is None:
        found = lookup_files(paths, store.hash_cache())
        raw, known = found.raw, found.known
        stale, states = found.stale, found.states
        unreadable = [Failure(os.fspath(paths[i]), reason) for i, reason in found.unreadable.items()]
        if len(stale) and not writable:
            hashed, failed = hash_files([os.fspath(paths[i]) for i in stale])
            ok = [j for j, key in enumerate(hashed) if key]
            raw[stale[ok]], known[stale[ok]] = to_raw([hashed[j] for j in ok]), True
            unreadable += [Failure(os.fspath(paths[stale[j]]), reason) for j, reason in failed.items()]
            stale, states = stale[:0], states[:0]
    else:
        if len(keys) != len(paths):
            raise ValueError(f"{len(keys)} keys given for {len(paths)} paths")
        raw, known = raw_keys(keys)
    first, planned = first_of_each(raw, known)
    present = store.contains(fingerprint, planned.raw)
    todo = np.sort(np.concatenate([first[~present], stale]))
    if len(todo) and not writable:
        raise StoreError(f"{read_only(store.path)}. {len(todo)} of these images have no vector in it")
    return Plan(fingerprint, paths, raw, known, todo, stale, states, planned, int(present.sum()), unreadable)


def raw_keys(keys: Sequence[str], chunk: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
    """(n, 32) raw keys and a mask of those given ("" is not), decoded a chunk at a time."""
    raw, known = np.zeros((len(keys), KEY_BYTES), np.uint8), np.zeros(len(keys), bool)
    for start in range(0, len(keys), chunk):
        rows = [start + i for i, key in enumerate(keys[start : start + chunk]) if key]
        raw[rows], known[rows] = to_raw([keys[i] for i in rows]), True
    return raw, known


def first_of_each(raw: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, SortedKeys]:
    """The position of the first file of each distinct known key, and those keys, both in key order."""
    positions = np.flatnonzero(known)
    order = sort_order(raw[positions])  # stable: equal keys keep their files' order
    keys = raw[positions[order]]
    words = keys.view(np.uint64)  # (n, 4): compared a word at a time
    starts = np.ones(len(keys), bool)
    starts[1:] = (words[1:] != words[:-1]).any(axis=1)
    return positions[order[starts]], SortedKeys(keys[starts])
