"""One segment of the store: an HDF5 file that one writer fills and publishes, immutable after.

A segment (format version 3) holds vectors of one extractor:
    rows       (n,) records of key (32 raw bytes of SHA-256), vector (dim float32) and crc,
               the CRC-32C of that key and vector; chunked by ROWS_PER_CHUNK rows, uncompressed
    paths      (n,) str      where each image was read from ("" unknown)
    index/keys (n, 32) uint8 the keys sorted bytewise; index/rows: where each sits in `rows`
    attrs: format, version, fingerprint, dim, count (rows committed), published, index_crc

Every row is checked when it is read: its CRC, and that its key is the one asked for, so a
flipped bit, a swapped index entry or storage that was never written (a full disk) is
reported, never returned. The index carries a CRC of its own. While open, each append writes
its rows, flushes and only then raises `count`; the file is fsynced at least every
SYNC_SECONDS and when published. A writer killed between appends loses nothing it committed;
recovery copies the rows that pass their checks into a new segment and publishes that, so a
power cut can take back the last second of rows but never publish a wrong one. Version-2
segments (no checksums) are still read as they are; compaction rewrites them as version 3.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from google_crc32c import extend
from google_crc32c import value as crc32c

from ..exceptions import StoreError
from ..hashing.keys import KEY_BYTES, sort_order
from ..locking import publish_file, try_lock
from .space import NO_SPACE, ensure_room

FORMAT = "workbench-store-segment"
VERSION = 3
UNCHECKED_VERSION = 2  # rows without checksums, read as they are
# 64 rows of 2048-d float32 = 512 KiB per chunk: large sequential writes, while a random
# read still touches one row (rows are read at their byte offset, not chunk by chunk).
ROWS_PER_CHUNK = 64
# An open segment is fsynced at least this often: what a power cut can take back. Every
# append alike would cost put most of the disk's speed in batches of 256 (bench/scale.py).
SYNC_SECONDS = 1.0
_STR = h5py.string_dtype()
_CREATING = ".creating"  # a segment being created: locked before it gets its name in open/


class SegmentDamaged(StoreError):
    """A segment, or some of its rows, failed its checks; `path` names it."""

    def __init__(self, path: Path, what: str):
        super().__init__(f"store segment {path}: {what}")
        self.path, self.what = path, what


def row_dtype(dim: int) -> np.dtype:
    return np.dtype([("key", np.uint8, (KEY_BYTES,)), ("vector", "<f4", (dim,)), ("crc", "<u4")])


def row_crcs(records: np.ndarray) -> np.ndarray:
    """The CRC-32C of each record's key and vector bytes (hardware CRC: 5x zlib's CRC-32 here,
    a fifth of a millisecond per 256 rows of 2048-d)."""
    body = records.dtype.itemsize - 4
    raw = np.ascontiguousarray(records).view(np.uint8).reshape(len(records), -1)
    return np.fromiter((crc32c(row[:body]) for row in raw), np.uint32, len(raw))


def records_of(raw_keys: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Rows as written: each key beside its vector and their CRC."""
    records = np.empty(len(raw_keys), row_dtype(vectors.shape[1]))
    records["key"], records["vector"] = raw_keys, vectors
    records["crc"] = row_crcs(records)
    return records


def open_h5(path: Path, mode: str) -> h5py.File:
    # Our own protocol (one writer per open segment, published files immutable) replaces
    # HDF5's file locks, which also misbehave on network filesystems.
    return h5py.File(path, mode, locking=False)


def new_name() -> str:
    """Segment names sort by creation time; the random part keeps concurrent writers apart."""
    return f"{time.time_ns():020d}-{os.urandom(4).hex()}.h5"


class OpenSegment:
    """The segment a writer is filling. Only its creator writes it; its flock says it is alive.

    It is created under a name recovery never looks at, locked, and only then renamed into
    `open/`, so no other writer can take a live segment for a dead one's.
    """

    def __init__(self, path: Path, fingerprint: str, dim: int):
        creating = path.with_name("." + path.name + _CREATING)
        self._lock_fd = os.open(creating, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # held until published: a dead writer drops it
        try:
            self._h5 = open_h5(creating, "w")
            self._h5.attrs.update(format=FORMAT, version=VERSION, fingerprint=fingerprint, dim=dim)
            self._h5.attrs.update(count=0, published=False)
            self._h5.create_dataset("rows", (0,), row_dtype(dim), maxshape=(None,), chunks=(ROWS_PER_CHUNK,))
            self._h5.create_dataset("paths", (0,), _STR, maxshape=(None,), chunks=(1024,))
            self._h5.flush()
            os.rename(creating, path)
        except BaseException:
            self._abandon(creating)
            raise
        self.path, self.count, self.dim = path, 0, dim
        self.opened = self._synced = time.monotonic()
        self._keys: list[np.ndarray] = []  # what the index is built from at publication
        self.failed = False  # a write failed: the file is left to recovery, never published

    @property
    def nbytes(self) -> int:
        return 4 * self.dim * self.count

    def append(self, raw_keys: np.ndarray, vectors: np.ndarray, paths: list[str]) -> None:
        start, stop = self.count, self.count + len(raw_keys)
        chunks = -(-stop // ROWS_PER_CHUNK) - -(-start // ROWS_PER_CHUNK)  # new chunks HDF5 allocates
        record = row_dtype(self.dim).itemsize
        try:
            ensure_room(self.path, chunks * ROWS_PER_CHUNK * record + sum(len(p) + 16 for p in paths))
        except OSError as exc:  # nothing written: the segment stays whole, published on close
            raise StoreError(write_failed(self.path, exc)) from exc
        try:
            for name, values in (("rows", records_of(raw_keys, vectors)), ("paths", np.array(paths, object))):
                dataset = self._h5[name]
                dataset.resize(stop, axis=0)
                dataset[start:stop] = values
            self._h5.flush()
            self._h5.attrs["count"] = stop  # the commit point: every row up to here is checked on recovery
            self._h5.flush()
            if time.monotonic() - self._synced >= SYNC_SECONDS:
                os.fsync(self._h5.id.get_vfd_handle())
                self._synced = time.monotonic()
        except (OSError, RuntimeError) as exc:  # h5py reports some failed writes as RuntimeError
            self.failed = True
            raise StoreError(write_failed(self.path, exc)) from exc
        self.count = stop
        self._keys.append(raw_keys)

    def publish(self, directory: Path) -> Path | None:
        """Seal and move into `directory`; an empty segment is simply removed. A segment whose
        writes failed is closed and left in open/, where recovery checks what it holds."""
        try:
            if self.failed:  # closing would make HDF5 write again, and it cannot: left as it is
                return None
            if self.count == 0:
                self._h5.close()
                self.path.unlink()
                return None
            keys = np.concatenate(self._keys)
            try:
                ensure_room(self.path, 40 * self.count)  # the sorted index
            except OSError as exc:  # nothing written: the file closes cleanly, for recovery
                self._h5.close()
                raise StoreError(write_failed(self.path, exc)) from exc
            try:
                _write_index(self._h5, keys, self.count)
                self._h5.close()
                publish_file(self.path, directory / self.path.name)
            except (OSError, RuntimeError) as exc:
                self.failed = True
                raise StoreError(write_failed(self.path, exc)) from exc
            return directory / self.path.name
        finally:
            os.close(self._lock_fd)

    def _abandon(self, creating: Path) -> None:
        os.close(self._lock_fd)
        with contextlib.suppress(OSError):
            creating.unlink()


def rows_text(n: int) -> str:
    """`n` rows, in words: "1 row", "3 rows"."""
    return f"{n} row" if n == 1 else f"{n} rows"


def failing_checks(n: int) -> str:
    """`n` rows that failed their checksums, in words: "1 row fails its checksum"."""
    return "1 row fails its checksum" if n == 1 else f"{n} rows fail their checksums"


def write_failed(path: Path, exc: Exception) -> str:
    """The sentence for a write that failed (a full disk, a file-size limit, a read-only disk)."""
    code = getattr(exc, "errno", None) or next((e for e in NO_SPACE if f"errno = {e}" in str(exc)), None)
    if code == errno.EFBIG:
        why, fix = getattr(exc, "strerror", None) or "File too large", "Raise the file-size limit (ulimit -f)"
    elif code in NO_SPACE:
        why, fix = getattr(exc, "strerror", None) or "No space left on device", "Free space on that disk"
    else:
        why, fix = f"The write failed ({exc})", "Fix the cause"
    return (
        f"{why} writing {path}. Nothing published is lost, and the rows committed before it are "
        f"kept for the next run. {fix} (or give the store another path: --store, embed.store), "
        "then run again: only what is missing is computed."
    )


def _write_index(h5: h5py.File, keys: np.ndarray, count: int) -> None:
    for name in ("rows", "paths"):  # rows past the commit point: a killed append
        h5[name].resize(count, axis=0)
    order = sort_order(keys)
    if "index" in h5:
        del h5["index"]
    sorted_keys, rows = keys[order], order.astype(np.uint32)
    h5.create_dataset("index/keys", data=sorted_keys)
    h5.create_dataset("index/rows", data=rows)
    h5.attrs["index_crc"] = index_crc(sorted_keys, rows)
    h5.attrs["published"] = True
    h5.flush()


def index_crc(keys: np.ndarray, rows: np.ndarray) -> int:
    return extend(crc32c(np.ascontiguousarray(keys).tobytes()), rows.astype("<u4").tobytes())


@dataclass(frozen=True)
class Salvage:
    """What could be read back from a segment: the rows that pass their checks, and how many did not."""

    keys: np.ndarray  # (n, 32) raw
    vectors: np.ndarray  # (n, dim)
    paths: list[str]
    bad: int  # rows that failed their checks (or could not be read)


def recover_open(path: Path, directory: Path, salvage_into, set_aside) -> str | None:
    """A dead writer's segment: its committed rows that pass their checks go to a new segment
    (`salvage_into(Salvage)` writes and publishes them), the old file is removed; says what was
    done. A file that cannot be read is set aside (`set_aside(path, why)`, to quarantine), never
    deleted. A live writer's segment is left alone (None)."""
    fd = try_lock(path)
    if fd is None:
        return None
    try:
        try:
            found = read_all(path, committed=True)
        except (OSError, KeyError, ValueError, SegmentDamaged) as exc:
            # Killed inside an HDF5 write: the file is damaged, and only its rows are lost.
            moved = set_aside(path, f"damaged unpublished segment ({exc})")
            return f"moved a damaged unpublished segment to {moved} ({exc}); its rows are computed again"
        if len(found.keys):
            salvage_into(found)
        path.unlink()
        if not len(found.keys) and not found.bad:
            return "removed an empty unpublished segment"
        lost = f"; {rows_text(found.bad)} left out (checksum), computed again" if found.bad else ""
        return f"recovered {rows_text(len(found.keys))} committed{lost}"
    finally:
        os.close(fd)


def read_all(path: Path, committed: bool = False) -> Salvage:
    """Every row of a segment that passes its checks (`committed`: up to its count, unpublished or not)."""
    with open_h5(path, "r") as h5:
        if h5.attrs.get("format") != FORMAT:
            raise SegmentDamaged(path, "not a store segment")
        version, count = int(h5.attrs.get("version", 0)), int(h5.attrs["count"])
        if not committed and not h5.attrs.get("published"):
            raise SegmentDamaged(path, "not published")
        keys, vectors, paths, bad = [], [], [], 0
        for start in range(0, count, 65536):
            stop = min(start + 65536, count)
            block_keys, block_vectors, ok = _block(h5, version, start, stop)
            keys.append(block_keys[ok])
            vectors.append(block_vectors[ok])
            block_paths = h5["paths"].asstr()[start:stop]
            paths += [p for p, good in zip(block_paths, ok, strict=True) if good]
            bad += int((~ok).sum())
        dim = int(h5.attrs["dim"])
    return Salvage(
        np.concatenate(keys) if keys else np.empty((0, KEY_BYTES), np.uint8),
        np.concatenate(vectors) if vectors else np.empty((0, dim), np.float32),
        paths,
        bad,
    )


def _block(h5: h5py.File, version: int, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows start..stop: (raw keys, vectors, which pass their checks)."""
    if version == UNCHECKED_VERSION:
        return h5["keys"][start:stop], h5["vectors"][start:stop], np.ones(stop - start, bool)
    records = h5["rows"][start:stop]
    ok = row_crcs(records) == records["crc"]
    return records["key"], records["vector"], ok


class Segment:
    """A published segment: its sorted keys in memory, its rows read at their byte offsets."""

    def __init__(self, path: Path):
        self.path = path
        try:
            with open_h5(path, "r") as h5:
                if h5.attrs.get("format") != FORMAT or not h5.attrs.get("published"):
                    raise SegmentDamaged(path, "not a published store segment")
                self.version = int(h5.attrs.get("version", 0))
                if self.version not in (VERSION, UNCHECKED_VERSION):
                    raise SegmentDamaged(path, f"segment format version {self.version} is not known here")
                self.dim = int(h5.attrs["dim"])
                self.count = int(h5.attrs["count"])
                data = h5["vectors" if self.version == UNCHECKED_VERSION else "rows"]
                self._chunk_rows = data.chunks[0]
                self._row_bytes = data.dtype.itemsize * (self.dim if self.version == UNCHECKED_VERSION else 1)
                self._index_crc = h5.attrs.get("index_crc")
        except OSError as exc:
            if not path.exists():
                raise FileNotFoundError(path) from exc
            raise SegmentDamaged(path, f"cannot be read ({exc})") from exc
        except KeyError as exc:
            raise SegmentDamaged(path, f"lacks {exc}") from exc
        self.nbytes = 4 * self.dim * self.count
        self._map: np.memmap | None = None
        self._offsets = np.empty(0, np.int64)

    @property
    def checked(self) -> bool:
        """Whether its rows carry checksums (version 3)."""
        return self.version == VERSION

    def index(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys sorted bytewise, the row of each): what lookups search; checked against its CRC."""
        try:
            with open_h5(self.path, "r") as h5:
                keys, rows = h5["index/keys"][:], h5["index/rows"][:]
        except (OSError, KeyError) as exc:
            raise SegmentDamaged(self.path, f"its index cannot be read ({exc})") from exc
        if self.checked and index_crc(keys, rows) != self._index_crc:
            raise SegmentDamaged(self.path, "its index fails its checksum")
        if len(rows) != self.count or (len(rows) and rows.max() >= self.count):
            raise SegmentDamaged(self.path, "its index does not match its rows")
        return keys, rows

    def read(self, rows: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(vectors of `rows`, which of them passed): a row passes when its storage was written,
        its CRC matches and its key is the one in `keys`. h5py's cost per selected row dominates
        random reads, and a published segment is immutable and uncompressed, so rows are
        copied straight from the file at their byte offset (HDF5 only says where each chunk is)."""
        if self._map is None:
            self._map, self._offsets = np.memmap(self.path, np.uint8, mode="r"), self._chunk_offsets()
        raw = np.zeros((len(rows), self._row_bytes), np.uint8)
        written = np.ones(len(rows), bool)
        for i, row in enumerate(rows.tolist()):
            chunk, within = divmod(row, self._chunk_rows)
            start = self._offsets[chunk] + within * self._row_bytes
            if self._offsets[chunk] < 0 or start + self._row_bytes > len(self._map):
                written[i] = False  # never allocated, or cut off: nothing there to read
                continue
            raw[i] = self._map[start : start + self._row_bytes]
        if not self.checked:
            return raw.view(np.float32).reshape(len(rows), self.dim), written
        records = raw.view(row_dtype(self.dim)).ravel()
        ok = written & (row_crcs(records) == records["crc"]) & (records["key"] == keys).all(axis=1)
        return records["vector"].copy(), ok

    def blocks(self, block: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray, list[str], int]]:
        """Every (raw keys, vectors, paths) in written order that passes its checks, `block` rows
        at a time, with how many rows of the block did not."""
        with open_h5(self.path, "r") as h5:
            for start in range(0, self.count, block):
                stop = min(start + block, self.count)
                keys, vectors, ok = _block(h5, self.version, start, stop)
                paths = h5["paths"].asstr()[start:stop].tolist()
                yield (
                    keys[ok],
                    vectors[ok],
                    [p for p, good in zip(paths, ok, strict=True) if good],
                    int((~ok).sum()),
                )

    def _chunk_offsets(self) -> np.ndarray:
        """Byte offset of every chunk of the rows, in row order; -1 for a chunk never written."""
        offsets = np.full(-(-self.count // self._chunk_rows), -1, np.int64)

        def note(info) -> None:
            offsets[info.chunk_offset[0] // self._chunk_rows] = info.byte_offset

        with open_h5(self.path, "r") as h5:
            h5["vectors" if self.version == UNCHECKED_VERSION else "rows"].id.chunk_iter(note)
        return offsets
