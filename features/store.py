"""The feature store: vectors in one HDF5 file, addressed by (fingerprint, content key).

Layout:
    /extractors/<fingerprint>/keys     (n,) S64      hex SHA-256 of the image bytes
    /extractors/<fingerprint>/vectors  (n, dim) f4
    /extractors/<fingerprint>/paths    (n,) str      where the image was last read from ("" unknown)
        attrs: spec (JSON of what made the vectors), count (rows committed)
    /failures/{keys, paths, reasons}   images that could not be decoded, attrs: count

Every write appends a batch, flushes, and only then raises `count`: a process killed
mid-batch leaves rows past `count` that readers ignore and the next write overwrites,
so at most the batch in flight is lost. Writers hold an exclusive lock, readers a
shared one, so concurrent processes take turns.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from .constants import SCHEMA_VERSION
from .exceptions import StoreError
from .locking import file_lock

FORMAT = "workbench-feature-store"
_KEY_DTYPE = "S64"
_STR = h5py.string_dtype()
_READ_BLOCK = 4096


@dataclass(frozen=True)
class Failure:
    """An image that could not be used, and why."""

    path: str
    reason: str
    key: str = ""


class FeatureStore:
    """Content-addressed vectors for any number of extractors in one HDF5 file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()
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

    def contains(self, fingerprint: str, keys: Sequence[str]) -> np.ndarray:
        """Boolean mask: which of `keys` have a vector under `fingerprint`."""
        with self._reading() as h5:
            index = self._refresh_index(h5, fingerprint)
        return np.array([key in index for key in keys], dtype=bool)

    def get(self, fingerprint: str, keys: Sequence[str]) -> np.ndarray:
        """Vectors for `keys` in their order; raises KeyError naming absent keys."""
        with self._reading() as h5:
            index = self._refresh_index(h5, fingerprint)
            absent = [key for key in keys if key not in index]
            if absent:
                raise KeyError(f"{len(absent)} keys not stored under {fingerprint}, e.g. {absent[:3]}")
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
                Failure(path, reason, key.decode())
                for key, path, reason in zip(
                    group["keys"][:count],
                    group["paths"].asstr()[:count],
                    group["reasons"].asstr()[:count],
                    strict=True,
                )
            ]

    # -- writing -----------------------------------------------------------------

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

    def put(
        self,
        fingerprint: str,
        spec: dict,
        keys: Sequence[str],
        vectors: np.ndarray,
        paths: Sequence[str] | None = None,
    ) -> int:
        """Append vectors for keys not yet stored; returns how many rows were added.

        `paths` (where each image was read from) is kept for `export`; it is not part of the key.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(keys):
            raise StoreError(f"put: {len(keys)} keys but vectors of shape {vectors.shape}")
        if not np.isfinite(vectors).all():
            raise StoreError("put: refusing to store non-finite vectors (NaN or inf)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self._lock_path, exclusive=True), self._h5("a") as h5:
            group = self._group(h5, fingerprint, spec, vectors.shape[1])
            index = self._refresh_index(h5, fingerprint)
            fresh: dict[str, int] = {}
            for i, key in enumerate(keys):
                if key not in index and key not in fresh:
                    fresh[key] = i
            if not fresh:
                return 0
            start = int(group.attrs["count"])
            stop = start + len(fresh)
            _append(group["keys"], start, np.array(list(fresh), dtype=_KEY_DTYPE))
            _append(group["vectors"], start, vectors[list(fresh.values())])
            fresh_paths = [paths[i] if paths is not None else "" for i in fresh.values()]
            _append(_paths_dataset(group, start), start, np.array(fresh_paths, dtype=object))
            h5.flush()
            group.attrs["count"] = stop  # the commit point
            h5.flush()
            return len(fresh)

    def add_failures(self, failures: Sequence[Failure]) -> None:
        """Record undecodable images (replacing any earlier record for the same key)."""
        if not failures:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self._lock_path, exclusive=True), self._h5("a") as h5:
            group = h5.require_group("failures")
            if "keys" not in group:
                group.create_dataset("keys", (0,), _KEY_DTYPE, maxshape=(None,), chunks=(256,))
                group.create_dataset("paths", (0,), _STR, maxshape=(None,), chunks=(256,))
                group.create_dataset("reasons", (0,), _STR, maxshape=(None,), chunks=(256,))
                group.attrs["count"] = 0
            count = int(group.attrs["count"])
            known = {key.decode() for key in group["keys"][:count]}
            new = [f for f in {f.key: f for f in failures if f.key}.values() if f.key not in known]
            if not new:
                return
            _append(group["keys"], count, np.array([f.key for f in new], dtype=_KEY_DTYPE))
            _append(group["paths"], count, np.array([f.path for f in new], dtype=object))
            _append(group["reasons"], count, np.array([f.reason for f in new], dtype=object))
            h5.flush()
            group.attrs["count"] = count + len(new)
            h5.flush()

    # -- internals ---------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[h5py.File | None]:
        """Shared-locked read access; yields None when the store does not exist yet."""
        if not self.path.exists():
            yield None
            return
        with file_lock(self._lock_path, exclusive=False), self._h5("r") as h5:
            yield h5

    def _h5(self, mode: str) -> h5py.File:
        try:
            h5 = h5py.File(self.path, mode)
        except OSError as exc:
            raise StoreError(
                f"feature store {self.path} cannot be opened ({exc}). It may have been damaged "
                "by a crash or a full disk. To recover, move it aside "
                f"(mv {self.path} {self.path}.damaged) and run the extraction again: vectors "
                "are recomputed, nothing else is lost."
            ) from exc
        fmt = h5.attrs.get("format")
        if fmt is None and mode != "r" and len(h5) == 0:  # a new store
            h5.attrs["format"] = FORMAT
            h5.attrs["schema"] = SCHEMA_VERSION
        elif fmt != FORMAT:
            h5.close()
            raise StoreError(f"{self.path} is an HDF5 file but not a feature store")
        return h5

    def _group(self, h5: h5py.File, fingerprint: str, spec: dict, dim: int) -> h5py.Group:
        name = f"extractors/{fingerprint}"
        if name in h5:
            group = h5[name]
            stored_dim = group["vectors"].shape[1]
            if stored_dim != dim:
                raise StoreError(f"{fingerprint} holds {stored_dim}-d vectors; got {dim}-d")
            return group
        group = h5.create_group(name)
        group.attrs["spec"] = json.dumps(spec, sort_keys=True)
        group.attrs["count"] = 0
        group.create_dataset("keys", (0,), _KEY_DTYPE, maxshape=(None,), chunks=(1024,))
        group.create_dataset(
            "vectors", (0, dim), np.float32, maxshape=(None, dim), chunks=(max(1, 65536 // dim), dim)
        )
        return group

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


def _paths_dataset(group: h5py.Group, count: int) -> h5py.Dataset:
    """The group's paths, created on first use (stores written before paths were kept have none)."""
    if "paths" not in group:
        group.create_dataset("paths", (count,), _STR, maxshape=(None,), chunks=(1024,))
    return group["paths"]


def _append(dataset: h5py.Dataset, start: int, values: np.ndarray) -> None:
    stop = start + len(values)
    if dataset.shape[0] < stop:
        dataset.resize(stop, axis=0)
    dataset[start:stop] = values


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
