"""One segment of the store: an HDF5 file that one writer fills and publishes, immutable after.

A segment holds vectors of one extractor:
    keys     (n, 32) uint8   raw SHA-256, in the order written
    vectors  (n, dim) f4     chunked by ROWS_PER_CHUNK rows, uncompressed
    paths    (n,) str        where each image was read from ("" unknown)
    index/keys (n, 32) uint8 the keys sorted bytewise; index/rows: where each sits in `keys`
    attrs: format, version, fingerprint, dim, count (rows committed), published

While open, each append writes the rows, flushes, and only then raises `count`: a writer
killed between appends leaves every committed row readable. Publishing writes the sorted
index, fsyncs, and renames the file out of `open/`; a published segment never changes.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np

from .exceptions import StoreError
from .keys import KEY_BYTES, sort_order
from .locking import publish_file, try_lock

FORMAT = "workbench-store-segment"
VERSION = 2
# 64 rows of 2048-d float32 = 512 KiB per chunk: large sequential writes, while a random
# read still touches one row (rows are read at their byte offset, not chunk by chunk).
ROWS_PER_CHUNK = 64
_STR = h5py.string_dtype()


def _open_h5(path: Path, mode: str) -> h5py.File:
    # Our own protocol (one writer per open segment, published files immutable) replaces
    # HDF5's file locks, which also misbehave on network filesystems.
    return h5py.File(path, mode, locking=False)


def new_name() -> str:
    """Segment names sort by creation time; the random part keeps concurrent writers apart."""
    return f"{time.time_ns():020d}-{os.urandom(4).hex()}.h5"


class OpenSegment:
    """The segment a writer is filling. Only its creator writes it; its flock says it is alive."""

    def __init__(self, path: Path, fingerprint: str, dim: int):
        self.path = path
        self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # held until published: a dead writer drops it
        self._h5 = _open_h5(path, "w")
        self._h5.attrs.update(format=FORMAT, version=VERSION, fingerprint=fingerprint, dim=dim)
        self._h5.attrs.update(count=0, published=False)
        self._h5.create_dataset(
            "keys", (0, KEY_BYTES), np.uint8, maxshape=(None, KEY_BYTES), chunks=(1024, KEY_BYTES)
        )
        self._h5.create_dataset(
            "vectors", (0, dim), np.float32, maxshape=(None, dim), chunks=(ROWS_PER_CHUNK, dim)
        )
        self._h5.create_dataset("paths", (0,), _STR, maxshape=(None,), chunks=(1024,))
        self.count, self.dim = 0, dim
        self.opened = time.monotonic()

    @property
    def nbytes(self) -> int:
        return 4 * self.dim * self.count

    def append(self, raw_keys: np.ndarray, vectors: np.ndarray, paths: list[str]) -> None:
        start, stop = self.count, self.count + len(raw_keys)
        for name, values in (
            ("keys", raw_keys),
            ("vectors", vectors),
            ("paths", np.array(paths, dtype=object)),
        ):
            dataset = self._h5[name]
            dataset.resize(stop, axis=0)
            dataset[start:stop] = values
        self._h5.flush()
        self._h5.attrs["count"] = stop  # the commit point
        self._h5.flush()
        self.count = stop

    def publish(self, directory: Path) -> Path | None:
        """Seal and move into `directory`; an empty segment is simply removed."""
        try:
            if self.count == 0:
                self._h5.close()
                self.path.unlink()
                return None
            _write_index(self._h5, self.count)
            self._h5.close()
            publish_file(self.path, directory / self.path.name)
            return directory / self.path.name
        finally:
            os.close(self._lock_fd)


def _write_index(h5: h5py.File, count: int) -> None:
    for name in ("keys", "vectors", "paths"):  # rows past the commit point: a killed append
        h5[name].resize(count, axis=0)
    keys = h5["keys"][:count]
    order = sort_order(keys)
    if "index" in h5:  # a recovery that was itself interrupted
        del h5["index"]
    h5.create_dataset("index/keys", data=keys[order])
    h5.create_dataset("index/rows", data=order.astype(np.uint32))
    h5.attrs["published"] = True
    h5.flush()


def recover(path: Path, directory: Path) -> str | None:
    """Publish what a dead writer committed, or remove a segment that cannot be read; says
    which. A live writer's segment is left alone (None)."""
    fd = try_lock(path)
    if fd is None:
        return None
    try:
        try:
            with _open_h5(path, "r+") as h5:
                if h5.attrs.get("format") != FORMAT:
                    raise OSError("not a segment")
                count = int(h5.attrs["count"])
                if count:
                    _write_index(h5, count)
        except (OSError, KeyError) as exc:
            # Killed inside an HDF5 write: the file is damaged, and only its rows are lost.
            path.unlink()
            return f"removed a damaged unpublished segment ({exc})"
        if count == 0:
            path.unlink()
            return "removed an empty unpublished segment"
        publish_file(path, directory / path.name)
        return f"recovered {count} committed rows"
    finally:
        os.close(fd)


class Segment:
    """A published segment: its sorted keys in memory, its rows read at their byte offsets."""

    def __init__(self, path: Path):
        self.path = path
        try:
            with _open_h5(path, "r") as h5:
                if h5.attrs.get("format") != FORMAT or not h5.attrs.get("published"):
                    raise StoreError(f"{path} is not a published store segment")
                self.dim = int(h5.attrs["dim"])
                self.count = int(h5.attrs["count"])
                self._chunk_rows = h5["vectors"].chunks[0]
        except OSError as exc:
            if not path.exists():
                raise FileNotFoundError(path) from exc
            raise StoreError(
                f"store segment {path} cannot be read ({exc}). Move it aside and run the "
                "extraction again: only its vectors are recomputed."
            ) from exc
        self.nbytes = 4 * self.dim * self.count
        self._map: np.memmap | None = None
        self._offsets = np.empty(0, np.int64)

    def index(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys sorted bytewise, the row of each): what lookups search."""
        with _open_h5(self.path, "r") as h5:
            return h5["index/keys"][:], h5["index/rows"][:]

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Vectors of `rows`. h5py's cost per selected row dominates random reads, and a
        published segment is immutable and uncompressed, so rows are copied straight
        from the file at their byte offset (HDF5 only says where each chunk is)."""
        row_bytes = 4 * self.dim
        out = np.empty((len(rows), self.dim), np.float32)
        raw_out = out.view(np.uint8).reshape(len(rows), row_bytes)
        if self._map is None:
            self._map, self._offsets = np.memmap(self.path, np.uint8, mode="r"), self._chunk_offsets()
        for i, row in enumerate(rows.tolist()):
            chunk, within = divmod(row, self._chunk_rows)
            start = self._offsets[chunk] + within * row_bytes
            raw_out[i] = self._map[start : start + row_bytes]
        return out

    def _chunk_offsets(self) -> np.ndarray:
        """Byte offset of every chunk of `vectors`, in row order (one pass over HDF5's index)."""
        offsets = np.zeros(-(-self.count // self._chunk_rows), np.int64)

        def note(info) -> None:
            offsets[info.chunk_offset[0] // self._chunk_rows] = info.byte_offset

        with _open_h5(self.path, "r") as h5:
            h5["vectors"].id.chunk_iter(note)
        return offsets

    def blocks(self, block: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray, list[str]]]:
        """Every (raw keys, vectors, paths) in written order, `block` rows at a time."""
        with _open_h5(self.path, "r") as h5:
            for start in range(0, self.count, block):
                stop = min(start + block, self.count)
                yield (
                    h5["keys"][start:stop],
                    h5["vectors"][start:stop],
                    h5["paths"].asstr()[start:stop].tolist(),
                )
