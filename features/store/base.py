"""The store's interface: what every kind of feature store answers, and the errors it raises.

Like zarr's `Store` ABC with a module per backend: `SegmentStore` (segments.py, a directory
of immutable segments) is the store that is written; `V1Store` (v1.py, the old single file)
is read as it is. `open_store(path)` (open.py) picks one. Everything above the store
(extraction, the pipeline, maintenance) uses this interface only.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..exceptions import StoreError
from ..hashing.keys import SortedKeys

if TYPE_CHECKING:
    from ..hashing.cache import HashCache
    from .failures import Failure
    from .writer import StoreWriter


class MissingVectors(StoreError, KeyError):
    """Keys with no vector under a fingerprint (never stored, or lost to a damaged segment)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class SegmentInfo:
    """One published segment, for `info`."""

    fingerprint: str
    name: str
    rows: int
    bytes: int


class Store(abc.ABC):
    """Vectors addressed by (extractor fingerprint, content key), and the images that failed.

    Keys are hex strings or an (n, 32) uint8 array of raw SHA-256 digests wherever a method
    takes many."""

    path: Path
    incidents: list[str]  # damage this process found and set aside, for the run's summary

    # -- reading -------------------------------------------------------------------

    @abc.abstractmethod
    def fingerprints(self) -> dict[str, dict]:
        """Every fingerprint in the store with its spec, `dim` and stored row `count`."""

    @abc.abstractmethod
    def contains(self, fingerprint: str, keys: Sequence[str] | np.ndarray) -> np.ndarray:
        """Boolean mask: which of `keys` have a vector under `fingerprint`."""

    @abc.abstractmethod
    def get(self, fingerprint: str, keys: Sequence[str]) -> np.ndarray:
        """Vectors for `keys` in their order; raises MissingVectors (a KeyError) naming absent keys."""

    @abc.abstractmethod
    def rows(self, fingerprint: str, block: int = 65536) -> Iterator[tuple[list[str], np.ndarray, list[str]]]:
        """Every stored (keys, vectors, paths) under `fingerprint` once, `block` rows at a time."""

    @abc.abstractmethod
    def stored_keys(self, fingerprint: str) -> SortedKeys:
        """Every key stored under `fingerprint`, sorted: the lookup index, for a process that
        cannot reach the store (the Ray engine's claims) to search."""

    @abc.abstractmethod
    def failures(self) -> list[Failure]:
        """Every image recorded as undecodable, one record per (key, decoder)."""

    def distinct(self, fingerprint: str) -> int:
        """How many distinct keys `fingerprint` holds (a key two writers raced on counts once)."""
        raw = self.stored_keys(fingerprint).raw
        return int(len(raw) and 1 + (raw[1:] != raw[:-1]).any(axis=1).sum())

    def segments(self) -> list[SegmentInfo]:
        """The files the vectors live in, for `info` (none for a store of one file)."""
        return []

    # -- writing -------------------------------------------------------------------

    @property
    @abc.abstractmethod
    def writable(self) -> bool:
        """Whether this process can write the store (or create it)."""

    def check_writable(self) -> None:
        """Raise StoreError saying why this store cannot be written, and what to do instead."""
        if not self.writable:
            raise StoreError(read_only(self.path))

    @abc.abstractmethod
    def writer(self, fingerprint: str, spec: dict) -> StoreWriter:
        """A writer of its own (use it as a context manager: leaving it publishes)."""

    @abc.abstractmethod
    def add_failures(self, failures: Sequence[Failure]) -> None:
        """Record undecodable images (a key already recorded keeps its first record)."""

    def put(
        self,
        fingerprint: str,
        spec: dict,
        keys: Sequence[str],
        vectors: np.ndarray,
        paths: Sequence[str] | None = None,
    ) -> int:
        """Store vectors for keys not yet stored, published at once; returns how many were added.

        For many batches, use one `writer` instead: it fills one segment rather than one per call.
        """
        with self.writer(fingerprint, spec) as writer:
            return writer.put(keys, vectors, paths)

    def hash_cache(self) -> HashCache | None:
        """The (path, size, mtime, ctime, inode) -> SHA-256 cache kept beside the vectors, if any."""
        return None

    def exports(self) -> Path | None:
        """Where the CPU runtimes' exports of the network are kept beside the vectors, if anywhere."""
        return None


class StoredVectors:
    """The vectors of `keys`, read from the store a slice at a time: `view[a:b]` reads rows a
    to b, `np.asarray(view)` reads them all. For writing many vectors out in bounded memory."""

    def __init__(self, store: Store, fingerprint: str, keys: Sequence[str]):
        self.store, self.fingerprint, self.keys = store, fingerprint, list(keys)
        self.shape = (len(self.keys), store.fingerprints()[fingerprint]["dim"])
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        if not isinstance(rows, slice):
            raise TypeError(f"StoredVectors reads slices of rows, got {rows!r}")
        return self.store.get(self.fingerprint, self.keys[rows])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        vectors = self.store.get(self.fingerprint, self.keys)
        return vectors if dtype is None else vectors.astype(dtype)


def read_only(path: str | os.PathLike) -> str:
    return (
        f"feature store {path} is read-only (this user cannot write it, or its disk is mounted "
        "read-only): vectors it holds can be read, new ones cannot be stored. Give a store you "
        "can write (--store, embed.store), or ask its owner to run the extraction"
    )
