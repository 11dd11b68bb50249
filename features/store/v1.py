"""A version-1 store (one HDF5 file), read as it is; `convert_v1` copies it into a version-2 store.

Layout:
    /extractors/<fingerprint>/keys     (n,) S64      hex SHA-256 of the image bytes
    /extractors/<fingerprint>/vectors  (n, dim) f4
    /extractors/<fingerprint>/paths    (n,) str      where the image was last read from ("" unknown)
        attrs: spec (JSON of what made the vectors), count (rows committed)
    /failures/{keys, paths, reasons}   images that could not be decoded, attrs: count

Rows past `count` were a killed write's and are ignored. Version 1 is never written any more:
its single file made every writer wait for the others.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import h5py
import numpy as np

from ..exceptions import StoreError
from ..hashing.keys import SortedKeys, to_hex, to_raw
from ..locking import file_lock
from .base import MissingVectors, Store
from .failures import Failure

FORMAT = "workbench-feature-store"
_KEY_DTYPE = "S64"
_READ_BLOCK = 4096


class V1Store(Store):
    """Read access to a version-1 store file, under its shared lock; never written."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()
        self.incidents = []
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        # fingerprint -> (rows indexed, {key: row}); rows are append-only, so the
        # index is extended incrementally instead of re-read.
        self._index: dict[str, tuple[int, dict[str, int]]] = {}

    # -- reading -----------------------------------------------------------------

    def fingerprints(self) -> dict[str, dict]:
        """Every fingerprint in the store with its spec and committed row count."""
        with self._reading() as h5:
            if h5 is None or "extractors" not in h5:
                return {}
            return {
                name: {**json.loads(group.attrs["spec"]), "count": int(group.attrs["count"])}
                for name, group in h5["extractors"].items()
            }

    def contains(self, fingerprint: str, keys: Sequence[str] | np.ndarray) -> np.ndarray:
        """Boolean mask: which of `keys` have a vector under `fingerprint`."""
        keys = to_hex(keys) if isinstance(keys, np.ndarray) else keys
        with self._reading() as h5:
            index = self._refresh_index(h5, fingerprint)
        return np.array([key in index for key in keys], dtype=bool)

    def stored_keys(self, fingerprint: str) -> SortedKeys:
        with self._reading() as h5:
            return SortedKeys(to_raw(sorted(self._refresh_index(h5, fingerprint))))  # hex order is byte order

    def get(self, fingerprint: str, keys: Sequence[str]) -> np.ndarray:
        """Vectors for `keys` in their order; raises KeyError naming absent keys."""
        with self._reading() as h5:
            index = self._refresh_index(h5, fingerprint)
            absent = [key for key in keys if key not in index]
            if absent:
                raise MissingVectors(f"{len(absent)} keys not stored under {fingerprint}, e.g. {absent[:3]}")
            if not keys:
                return np.empty((0, self._dim(h5, fingerprint)), dtype=np.float32)
            rows = np.array([index[key] for key in keys])
            return _read_rows(h5[f"extractors/{fingerprint}/vectors"], rows)

    def failures(self) -> list[Failure]:
        with self._reading() as h5:
            if h5 is None or "failures" not in h5:
                return []
            group = h5["failures"]
            count = int(group.attrs["count"])
            return [
                Failure(path, reason, key.decode(), decoder="")  # version 1 kept no decoder
                for key, path, reason in zip(
                    group["keys"][:count],
                    group["paths"].asstr()[:count],
                    group["reasons"].asstr()[:count],
                    strict=True,
                )
            ]

    def rows(self, fingerprint: str, block: int = 65536) -> Iterator[tuple[list[str], np.ndarray, list[str]]]:
        """Every stored (keys, vectors, paths) under `fingerprint`, `block` rows at a time."""
        with self._reading() as h5:
            name = f"extractors/{fingerprint}"
            if h5 is None or name not in h5:
                raise StoreError(f"{self.path} holds no vectors of extractor {fingerprint}")
            group = h5[name]
            count = int(group.attrs["count"])
            for start in range(0, count, block):
                stop = min(start + block, count)
                keys = [key.decode() for key in group["keys"][start:stop]]
                paths = group["paths"].asstr()[start:stop].tolist() if "paths" in group else [""] * len(keys)
                yield keys, group["vectors"][start:stop], paths

    @property
    def writable(self) -> bool:
        return False

    def writer(self, fingerprint: str, spec: dict):
        self.check_writable()

    def add_failures(self, failures: Sequence[Failure]) -> None:
        self.check_writable()

    def check_writable(self) -> None:
        raise StoreError(
            f"{self.path} is a version-1 store (one HDF5 file), which is read but no longer "
            f"written. Convert it once: python -m features convert {self.path} NEW_STORE_DIR, "
            "then use NEW_STORE_DIR."
        )

    # -- internals ---------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[h5py.File | None]:
        """Shared-locked read access; yields None when the store does not exist yet."""
        if not self.path.exists():
            yield None
            return
        with file_lock(self._lock_path, exclusive=False), self._h5() as h5:
            yield h5

    def _h5(self) -> h5py.File:
        try:
            h5 = h5py.File(self.path, "r")
        except OSError as exc:
            raise StoreError(
                f"feature store {self.path} cannot be opened ({exc}). It may have been damaged "
                "by a crash or a full disk. To recover, move it aside "
                f"(mv {self.path} {self.path}.damaged) and run the extraction again: vectors "
                "are recomputed, nothing else is lost."
            ) from exc
        if h5.attrs.get("format") != FORMAT:
            h5.close()
            raise StoreError(f"{self.path} is an HDF5 file but not a feature store")
        return h5

    def _refresh_index(self, h5: h5py.File | None, fingerprint: str) -> dict[str, int]:
        indexed, index = self._index.get(fingerprint, (0, {}))
        name = f"extractors/{fingerprint}"
        if h5 is None or name not in h5:
            return index
        group = h5[name]
        count = int(group.attrs["count"])
        if count < indexed:  # the file was replaced: start over
            indexed, index = 0, {}
        if count > indexed:
            for row, key in enumerate(group["keys"][indexed:count], start=indexed):
                index[key.decode()] = row
            self._index[fingerprint] = (count, index)
        return index

    @staticmethod
    def _dim(h5: h5py.File | None, fingerprint: str) -> int:
        name = f"extractors/{fingerprint}/vectors"
        return h5[name].shape[1] if h5 is not None and name in h5 else 0


def _read_rows(dataset: h5py.Dataset, rows: np.ndarray) -> np.ndarray:
    """Gather rows block by block: h5py point selections are slow, contiguous reads fast."""
    out = np.empty((len(rows), dataset.shape[1]), dtype=np.float32)
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    lo = 0
    while lo < len(sorted_rows):
        first = sorted_rows[lo]
        hi = np.searchsorted(sorted_rows, first + _READ_BLOCK, side="left")
        block = dataset[first : sorted_rows[hi - 1] + 1]
        out[order[lo:hi]] = block[sorted_rows[lo:hi] - first]
        lo = hi
    return out


def is_v1_store(path: Path) -> bool:
    """A file (not a directory) that is a version-1 store."""
    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as h5:
            return h5.attrs.get("format") == FORMAT
    except OSError:
        return False


def convert_v1(source: Path, store: Store) -> dict[str, int]:
    """Copy every vector and failure of a version-1 store into `store` (a writable one);
    the source is only read. Returns the rows copied per fingerprint."""
    old = V1Store(source)
    copied = {}
    for fingerprint, spec in old.fingerprints().items():
        spec = {key: value for key, value in spec.items() if key != "count"}
        with store.writer(fingerprint, spec) as writer:
            copied[fingerprint] = sum(writer.put(*block) for block in old.rows(fingerprint))
    store.add_failures(old.failures())
    return copied
