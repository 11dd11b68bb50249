"""The feature store: vectors addressed by (extractor fingerprint, SHA-256), in immutable segments.

Layout of a store directory:
    store.json                      {"format": "workbench-feature-store", "version": 2}
    <fingerprint>/spec.json         what made the vectors, and their dimension
    <fingerprint>/<segment>.h5      published segments (see segment.py), never changed
    <fingerprint>/open/<segment>.h5 one per live writer, published when full, old or closed
    failures/<name>.h5              images that could not be decoded
    quarantine/<fp>-<segment>.h5    segments that failed their checks, with a .txt saying why
    hashes.sqlite                   the hash cache (hash_cache.py)

Writers never share a file, so any number of processes, Ray workers or machines on one
filesystem write at once without waiting. A writer killed between appends loses nothing it
committed (the next writer publishes it); killed inside an append or a publish, it loses at
most its own unpublished segment (at most `max_bytes` of vectors, `max_seconds` of work). Readers
see published segments only.

A vector is returned only when its row passes its checks (segment.py); a segment that cannot
be opened or fails a check is moved to quarantine/ with its good rows copied to a new
segment, the rest of the store keeps working, and what it lost counts as missing, so the
next extraction computes exactly that (`verify.py` checks everything at once). A file (not
a directory) at the path is a version-1 store: it is read as it is, and
`python -m features convert` copies it into a version-2 store.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .exceptions import StoreError
from .failures import Failure, read_failures, write_failures
from .hash_cache import HashCache
from .keys import KEY_BYTES, SortedKeys, merge, to_hex, to_raw
from .locking import publish_file, try_lock
from .segment import (
    OpenSegment,
    Salvage,
    Segment,
    SegmentDamaged,
    failing_checks,
    new_name,
    read_all,
    recover,
    rows_text,
    write_failed,
)
from .store_v1 import V1Store, is_v1_store

log = logging.getLogger(__name__)

FORMAT = "workbench-feature-store"
VERSION = 2
# Defaults measured with bench/scale.py: publishing costs one fsync and an index sort, so a
# segment of 256 MiB (32,768 2048-d vectors) makes that cost negligible beside the writes and
# keeps a million vectors in about 30 files; a minute bounds what a kill can take on a machine
# of any speed.
MAX_BYTES = 256 * 2**20
MAX_SECONDS = 60.0
# Small segments (a put of a few rows each) are merged once this many have piled up.
COMPACT_AFTER = 16
_MARKER_PART = re.compile(r"\.store\.json\.\d+\.part")  # what `_write_atomic` leaves if killed


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


class FeatureStore:
    """Content-addressed vectors for any number of extractors, in a directory of segments."""

    def __init__(self, path: str | os.PathLike, max_bytes: int = MAX_BYTES, max_seconds: float = MAX_SECONDS):
        self.path = Path(path).expanduser()
        self.max_bytes, self.max_seconds = max_bytes, max_seconds
        self._v1 = V1Store(self.path) if is_v1_store(self.path) else None
        if self._v1 is None and self.path.is_file():
            raise StoreError(f"{self.path} is a file but not a feature store; a store is a directory")
        self._segments: dict[Path, Segment] = {}  # loaded once: published segments never change
        self._indexes: dict[str, _Index] = {}
        self._excluded: set[Path] = set()  # damaged, but could not be moved (a read-only store)
        self.incidents: list[str] = []  # damage this process found and set aside, for the run's summary

    # -- reading -------------------------------------------------------------------

    def fingerprints(self) -> dict[str, dict]:
        """Every fingerprint in the store with its spec and stored row count."""
        if self._v1:
            return self._v1.fingerprints()
        out = {}
        for directory in sorted(p for p in self.path.glob("*") if (p / "spec.json").is_file()):
            meta = self._meta(directory.name)
            if meta is not None:
                rows = sum(s.count for s in self._published(directory.name))
                out[directory.name] = {**meta["spec"], "dim": meta["dim"], "count": rows}
        return out

    def distinct(self, fingerprint: str) -> int:
        """How many distinct keys `fingerprint` holds: rows less the copies that writers racing
        on one image left in two segments (compaction drops those)."""
        if self._v1:
            return self._v1.fingerprints()[fingerprint]["count"]
        raw = self.stored_keys(fingerprint).raw
        return int(len(raw) and 1 + (raw[1:] != raw[:-1]).any(axis=1).sum())

    def contains(self, fingerprint: str, keys: Sequence[str] | np.ndarray) -> np.ndarray:
        """Boolean mask: which of `keys` (hex, or (n, 32) raw bytes) have a vector under `fingerprint`."""
        raw = keys if isinstance(keys, np.ndarray) else None
        if self._v1:
            return self._v1.contains(fingerprint, keys if raw is None else to_hex(raw))
        return self._locate(fingerprint, to_raw(keys) if raw is None else raw)[0] >= 0

    def get(self, fingerprint: str, keys: Sequence[str]) -> np.ndarray:
        """Vectors for `keys` in their order; raises MissingVectors (a KeyError) naming absent
        keys, including any whose row failed its checks just now (its segment is quarantined)."""
        if self._v1:
            return self._v1.get(fingerprint, keys)
        raw = to_raw(keys)
        try:
            return self._read(fingerprint, raw, keys)
        except FileNotFoundError:  # compacted away since it was listed: look again
            return self._read(fingerprint, raw, keys)

    def stored_keys(self, fingerprint: str) -> SortedKeys:
        """Every key stored under `fingerprint`, sorted: the lookup index, for a process that
        cannot reach the store (the Ray engine's claims) to search."""
        if self._v1:
            return SortedKeys(to_raw(sorted(self._v1.keys(fingerprint))))  # hex order is byte order
        self._locate(fingerprint, np.empty((0, KEY_BYTES), np.uint8))  # merge what is new
        return self._indexes[fingerprint].keys

    def failures(self) -> list[Failure]:
        if self._v1:
            return self._v1.failures()
        return read_failures(self.path / "failures")

    def rows(self, fingerprint: str, block: int = 65536) -> Iterator[tuple[list[str], np.ndarray, list[str]]]:
        """Every stored (keys, vectors, paths) under `fingerprint` once, `block` rows at a time."""
        if self._v1:
            yield from self._v1.rows(fingerprint, block)
            return
        segments = self._published(fingerprint)
        if not segments:
            raise StoreError(f"{self.path} holds no vectors of extractor {fingerprint}")
        damaged = []
        for s, segment in enumerate(segments):
            bad = 0
            for raw, vectors, paths, failed in segment.blocks(block):
                bad += failed
                # a key written by two writers at once is in two segments: the index names one
                fresh = self._locate(fingerprint, raw)[0] == s
                yield to_hex(raw[fresh]), vectors[fresh], [p for p, f in zip(paths, fresh, strict=True) if f]
            if bad:
                damaged.append((segment, failing_checks(bad)))
        for segment, what in damaged:  # left out above; the next extraction computes them
            self.quarantine(fingerprint, segment.path, what)

    def segments(self) -> list[SegmentInfo]:
        """Every published segment with its rows and size on disk."""
        if self._v1:
            return []
        return [
            SegmentInfo(fp, s.path.name, s.count, s.path.stat().st_size)
            for fp in self.fingerprints()
            for s in self._published(fp)
        ]

    # -- writing -------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        """Whether this process can write the store (or create it): not a version-1 file, not
        a read-only disk, not another user's folder."""
        if self._v1:
            return False
        existing = next(p for p in (self.path, *self.path.parents) if p.exists())
        return os.access(existing, os.W_OK | os.X_OK)

    def exports(self) -> Path | None:
        """Where the CPU runtimes' exports of the network are kept: beside the vectors (the
        default folder for a version-1 file or a store this user cannot write)."""
        if self._v1 or not self.writable:
            return None
        self._init()  # the folder goes inside, so it must be a store first
        return self.path / "exports"

    def hash_cache(self) -> HashCache | None:
        """The (path, size, mtime, ctime, inode) -> SHA-256 cache kept beside the vectors (none
        for a version-1 file); read-only when the store is."""
        if self._v1:
            return None
        if not self.writable:
            return HashCache(self.path / "hashes.sqlite", writable=False)
        self._init()  # the cache file makes the directory, so it must be a store first
        return HashCache(self.path / "hashes.sqlite")

    def writer(self, fingerprint: str, spec: dict) -> StoreWriter:
        """A writer of its own (use it as a context manager: leaving it publishes)."""
        self._check_writable()
        return StoreWriter(self, fingerprint, spec, self.max_bytes, self.max_seconds)

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

    def add_failures(self, failures: Sequence[Failure]) -> None:
        """Record undecodable images (a key already recorded keeps its first record)."""
        self._check_writable()
        known = {(f.key, f.decoder) for f in self.failures()}
        given = {(f.key, f.decoder): f for f in failures if f.key}
        new = [f for pair, f in given.items() if pair not in known]
        if new:
            self._init()
            try:
                write_failures(self.path / "failures", new_name(), new)
            except OSError as exc:
                raise StoreError(write_failed(self.path / "failures", exc)) from exc

    def compact(self, fingerprint: str | None = None, small_only: bool = False) -> str:
        """Publish what dead writers left, then merge segments (duplicates dropped) into one.

        `small_only` merges only segments under a quarter of `max_bytes`. One compaction runs at
        a time; another caller returns at once. Readers are never blocked: the merged segment is
        published before the old ones are removed.
        """
        self._check_writable()
        self._init()
        lock = try_lock(self.path / ".compact.lock")
        if lock is None:
            return "another compaction is running"
        try:
            notes = []
            for fp in [fingerprint] if fingerprint else list(self.fingerprints()):
                self.recover(fp)
                segments = self._published(fp)
                if small_only:
                    segments = [s for s in segments if s.nbytes < self.max_bytes // 4]
                if len(segments) < 2:
                    continue
                damaged = {}
                with self._whole_writer(fp) as writer:
                    for segment in segments:
                        for raw, vectors, paths, bad in segment.blocks():
                            writer.append(raw, vectors, paths, skip_stored=False)
                            damaged[segment.path] = damaged.get(segment.path, 0) + bad
                for segment in segments:
                    if damaged[segment.path]:  # its good rows are merged; keep the evidence
                        self._move_to_quarantine(fp, segment.path, failing_checks(damaged[segment.path]))
                    else:
                        segment.path.unlink()
                    self._segments.pop(segment.path, None)
                self._indexes.pop(fp, None)
                lost = sum(damaged.values())
                notes.append(
                    f"{fp}: {len(segments)} segments -> 1 ({writer.added} rows"
                    + (
                        f"; {lost} damaged rows left out, computed again by the next extraction)"
                        if lost
                        else ")"
                    )
                )
            if fingerprint is None:  # the failures record is shared by every extractor
                notes += self._compact_failures()
            return "; ".join(notes) or "nothing to compact"
        finally:
            os.close(lock)

    def _compact_failures(self) -> list[str]:
        """One failures file in place of the one each run left. A reader meanwhile sees a
        record twice at most (read_failures keeps one per key); a file added meanwhile stays."""
        directory = self.path / "failures"
        files = sorted(directory.glob("*.h5")) if directory.is_dir() else []
        if len(files) < 2:
            return []
        merged = read_failures(directory)
        write_failures(directory, new_name(), merged)
        for path in files:
            path.unlink()
        return [f"failures: {len(files)} files -> 1 ({len(merged)} images)"]

    def recover(self, fingerprint: str) -> None:
        """Publish the committed rows of writers that died, those that pass their checks; remove
        their files."""
        directory = self.path / fingerprint / "open"
        for path in sorted(directory.glob("*.h5")) if directory.is_dir() else []:
            what = recover(
                path,
                self.path / fingerprint,
                lambda rows: self._salvage_into(fingerprint, rows),
                lambda damaged, why: self._move_to_quarantine(fingerprint, damaged, why),
            )
            if what:
                self._incident(f"{path.name}: {what}")

    def quarantine(self, fingerprint: str, path: Path, what: str) -> None:
        """Move a published segment that failed a check to quarantine/, its good rows copied to
        a new segment first; said in one log line. In a store this process cannot write, the
        segment is only left out of this process's lookups."""
        self._segments.pop(path, None)
        self._indexes.pop(fingerprint, None)
        if not self.writable:
            self._excluded.add(path)
            log.warning(
                "feature store %s: segment %s: %s; left out of this read (the store is read-only: run "
                "`workbench verify %s --repair` as a user who can write it)", self.path, path, what, self.path
            )  # fmt: skip
            return
        moved = self._move_to_quarantine(fingerprint, path, what)
        if moved is None:
            return  # another process moved it first
        try:
            found = read_all(moved)
        except (OSError, KeyError, ValueError, SegmentDamaged) as exc:
            self._incident(
                f"segment {path.name}: {what}; moved to {moved}; none of its rows could be salvaged ({exc}): "
                "the next extraction computes them again"
            )
            return
        kept = self._salvage_into(fingerprint, found) if len(found.keys) else 0
        self._incident(
            f"segment {path.name}: {what}; moved to {moved}, {rows_text(kept)} kept in a new segment; the "
            "next extraction computes the vectors it lost"
        )

    def _incident(self, what: str) -> None:
        """Damage found and dealt with: logged now, and kept for the run's last lines."""
        log.warning("feature store %s: %s", self.path, what)
        self.incidents.append(what)

    def _move_to_quarantine(self, fingerprint: str, path: Path, what: str) -> Path | None:
        target = self.path / "quarantine" / f"{fingerprint}-{path.name}"
        target.parent.mkdir(exist_ok=True)
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return None
        target.with_suffix(".txt").write_text(f"{path}: {what}\n")
        return target

    def _salvage_into(self, fingerprint: str, rows: Salvage) -> int:
        """Rows that passed their checks, into a new segment of their own; how many were added."""
        with self._whole_writer(fingerprint) as writer:
            writer.append(rows.keys, rows.vectors, rows.paths)
        return writer.added

    def _whole_writer(self, fingerprint: str) -> StoreWriter:
        """A writer of one segment, published on close, that recovers nothing itself (for
        compaction, recovery and salvage, which may run inside another writer's recovery)."""
        meta = self._meta(fingerprint)
        if meta is None:
            raise StoreError(
                f"{self.path / fingerprint / 'spec.json'} is damaged: run `workbench verify {self.path}`"
            )
        return StoreWriter(self, fingerprint, meta["spec"], max_bytes=None, max_seconds=None, recover=False)

    # -- internals -----------------------------------------------------------------

    def _published(self, fingerprint: str) -> list[Segment]:
        """Published segments of `fingerprint`, oldest first (loaded once each); one that cannot
        be opened is quarantined and left out."""
        directory = self.path / fingerprint
        for _ in range(3):
            listed = (
                sorted(p for p in directory.glob("*.h5") if p not in self._excluded)
                if directory.is_dir()
                else []
            )
            try:
                for path in listed:
                    if path not in self._segments:
                        try:
                            self._segments[path] = Segment(path)
                        except SegmentDamaged as exc:
                            self.quarantine(fingerprint, path, exc.what)
            except FileNotFoundError:  # compacted away between listing and opening
                continue
            return [self._segments[path] for path in listed if path in self._segments]
        raise StoreError(f"{directory} keeps changing under a compaction; try again")

    def _locate(self, fingerprint: str, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[Segment]]:
        """(segment index or -1, row) of each key, by one binary search in the merged index."""
        while True:
            segments = self._published(fingerprint)
            index = self._indexes.get(fingerprint)
            if index is None or index.segments != segments[: len(index.segments)]:
                index = self._indexes[fingerprint] = _Index()  # a compaction removed segments
            try:
                index.extend(segments[len(index.segments) :])
                break
            except SegmentDamaged as exc:  # its index: the rows may still be good
                self.quarantine(fingerprint, exc.path, exc.what)
        found = index.keys.find(raw)
        hit = found >= 0
        origin = np.full(len(raw), -1, np.int64)
        origin[hit] = index.origin[found[hit]]
        return np.where(hit, origin >> 32, -1), np.where(hit, origin & 0xFFFFFFFF, -1), segments

    def _read(self, fingerprint: str, raw: np.ndarray, keys: Sequence[str], lost: str = "") -> np.ndarray:
        segment_of, row_of, segments = self._locate(fingerprint, raw)
        absent = np.flatnonzero(segment_of < 0)
        if len(absent):
            examples = [keys[i] for i in absent[:3]]
            raise MissingVectors(f"{len(absent)} keys not stored under {fingerprint}, e.g. {examples}{lost}")
        out = np.empty((len(keys), self._dim(fingerprint, segments)), np.float32)
        damaged = []
        for s, segment in enumerate(segments):
            mine = np.flatnonzero(segment_of == s)
            if len(mine):
                out[mine], ok = segment.read(row_of[mine], raw[mine])
                if not ok.all():
                    damaged.append((segment, int((~ok).sum())))
        if not damaged:
            return out
        for segment, bad in damaged:
            self.quarantine(fingerprint, segment.path, failing_checks(bad))
        where = ", ".join(segment.path.name for segment, _ in damaged)
        lost = (
            f" ({sum(b for _, b in damaged)} failed their checks in {where}, now quarantined: "
            "extract again to compute them)"
        )
        return self._read(fingerprint, raw, keys, lost)  # what is left: copies in other segments, or missing

    def _dim(self, fingerprint: str, segments: list[Segment]) -> int:
        if segments:
            return segments[0].dim
        meta = self._meta(fingerprint)
        return meta["dim"] if meta else 0

    def _meta(self, fingerprint: str) -> dict | None:
        """`<fingerprint>/spec.json`, or None (with a warning) when it is damaged."""
        path = self.path / fingerprint / "spec.json"
        try:
            meta = json.loads(path.read_text())
            if (
                isinstance(meta, dict)
                and isinstance(meta.get("spec"), dict)
                and isinstance(meta.get("dim"), int)
            ):
                return meta
            problem = "holds no spec and dimension"
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            problem = f"cannot be read ({exc})"
        log.warning(
            "feature store %s: %s %s; its vectors are not read until an extraction with that "
            "extractor writes it again", self.path, path, problem
        )  # fmt: skip
        return None

    def _check_writable(self) -> None:
        if self._v1:
            raise StoreError(
                f"{self.path} is a version-1 store (one HDF5 file), which is read but no longer "
                f"written. Convert it once: python -m features convert {self.path} NEW_STORE_DIR, "
                "then use NEW_STORE_DIR."
            )
        if not self.writable:
            raise StoreError(read_only(self.path))

    def _init(self) -> None:
        """Make sure the directory is a store: create it, or rebuild a store.json that a
        crash, a user or a disk lost (it holds only the format, which the folders show)."""
        marker = self.path / "store.json"
        try:
            meta = json.loads(marker.read_text())
            problem = None if isinstance(meta, dict) else "not a JSON object"
        except FileNotFoundError:
            meta, problem = None, "missing"
        except (OSError, ValueError) as exc:
            meta, problem = None, f"damaged ({exc})"
        if problem is None:
            if meta.get("format") != FORMAT or meta.get("version") != VERSION:
                raise StoreError(f"{self.path} is not a version-{VERSION} feature store ({meta})")
            return
        holds = [p.parent.name for p in self.path.glob("*/spec.json")] if self.path.is_dir() else []
        if holds:
            _write_atomic(marker, {"format": FORMAT, "version": VERSION})
            log.warning(
                "feature store %s: store.json was %s; rebuilt from the %d extractor folder(s) it holds",
                self.path, problem, len(holds),
            )  # fmt: skip
            return
        # a creation killed before its rename leaves only its part file: finish it
        others = (
            [p for p in self.path.iterdir() if not _MARKER_PART.fullmatch(p.name)]
            if self.path.is_dir()
            else []
        )
        if others and problem == "missing":
            raise StoreError(
                f"{self.path} is a directory but not a feature store (no store.json, no extractor "
                "folders): give --store / embed.store a new folder or an existing store"
            )
        if others:
            raise StoreError(
                f"{marker} is {problem}, and {self.path} holds no extractor folders to rebuild it "
                f"from: remove {marker} to start the store afresh there, or give --store / "
                "embed.store another folder"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        _write_atomic(marker, {"format": FORMAT, "version": VERSION})

    def _init_fingerprint(self, fingerprint: str, spec: dict, dim: int) -> None:
        self._init()
        meta = self._meta(fingerprint)
        if meta is not None:
            if meta["dim"] != dim:
                raise StoreError(f"{fingerprint} holds {meta['dim']}-d vectors; got {dim}-d")
            return
        (self.path / fingerprint / "open").mkdir(parents=True, exist_ok=True)
        _write_atomic(self.path / fingerprint / "spec.json", {"spec": spec, "dim": dim})


class StoredVectors:
    """The vectors of `keys`, read from the store a slice at a time: `view[a:b]` reads rows a
    to b, `np.asarray(view)` reads them all. For writing many vectors out in bounded memory."""

    def __init__(self, store: FeatureStore, fingerprint: str, keys: Sequence[str]):
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


class StoreWriter:
    """One writer: appends go to its own open segment, published when its vectors fill
    `max_bytes` or it is `max_seconds` old, and when the writer is closed."""

    def __init__(
        self,
        store: FeatureStore,
        fingerprint: str,
        spec: dict,
        max_bytes: int | None,
        max_seconds: float | None,
        recover: bool = True,
    ):
        """`max_bytes`/`max_seconds` None: one segment, published on close (compaction).
        `recover`: publish what dead writers left before the first append."""
        self.store, self.fingerprint, self.spec = store, fingerprint, spec
        self.max_bytes, self.max_seconds = max_bytes, max_seconds
        self.added = 0
        self._open: OpenSegment | None = None
        self._mine: set[bytes] = set()  # keys in the open segment
        self._published = 0
        self._ready, self._recover = False, recover

    def put(self, keys: Sequence[str], vectors: np.ndarray, paths: Sequence[str] | None = None) -> int:
        """Append vectors of keys not stored yet; returns how many rows were added."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(keys):
            raise StoreError(f"put: {len(keys)} keys but vectors of shape {vectors.shape}")
        if not np.isfinite(vectors).all():
            raise StoreError("put: refusing to store non-finite vectors (NaN or inf)")
        return self.append(to_raw(keys), vectors, list(paths) if paths else [""] * len(keys))

    def append(self, raw: np.ndarray, vectors: np.ndarray, paths: list[str], skip_stored: bool = True) -> int:
        """`put` for checked rows with raw keys; `skip_stored=False` skips only this writer's own
        keys (compaction, which reads keys the store holds by definition)."""
        if not self._ready:
            self._ready = True
            try:
                self.store._init_fingerprint(self.fingerprint, self.spec, vectors.shape[1])
            except OSError as exc:
                raise StoreError(write_failed(self.store.path / self.fingerprint, exc)) from exc
            if self._recover:
                self.store.recover(self.fingerprint)
        stored = (
            self.store._locate(self.fingerprint, raw)[0] >= 0 if skip_stored else np.zeros(len(raw), bool)
        )
        fresh, seen = [], set()
        for i, key in enumerate(map(bytes, raw)):
            if not stored[i] and key not in self._mine and key not in seen:
                fresh.append(i)
                seen.add(key)
        if fresh:
            if self._open is None:
                name = self.store.path / self.fingerprint / "open" / new_name()
                try:
                    self._open = OpenSegment(name, self.fingerprint, vectors.shape[1])
                except OSError as exc:
                    raise StoreError(write_failed(name, exc)) from exc
            self._open.append(raw[fresh], vectors[fresh], [paths[i] for i in fresh])
            self._mine |= seen
            self.added += len(fresh)
        if self._open is not None and self._full():
            self.publish()
        return len(fresh)

    def publish(self) -> None:
        """Publish the open segment now (the next put starts another)."""
        if self._open is not None:
            segment, self._open, self._mine = self._open, None, set()
            segment.publish(self.store.path / self.fingerprint)
            self._published += 1

    def close(self) -> None:
        failed = self._open is not None and self._open.failed
        self.publish()
        if self._published and not failed and self.max_bytes is not None:
            small = [
                s for s in self.store._published(self.fingerprint) if s.nbytes < self.store.max_bytes // 4
            ]
            if len(small) >= COMPACT_AFTER:
                self.store.compact(self.fingerprint, small_only=True)

    def _full(self) -> bool:
        assert self._open is not None
        too_big = self.max_bytes is not None and self._open.nbytes >= self.max_bytes
        too_old = self.max_seconds is not None and time.monotonic() - self._open.opened >= self.max_seconds
        return too_big or too_old

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()  # committed rows are good even when the caller failed


class _Index:
    """The sorted keys of a fingerprint's segments, merged, each labelled (segment << 32 | row).

    About 48 bytes per vector in memory. New segments are merged in as they appear; a key in
    several segments is found in the oldest."""

    def __init__(self):
        self.segments: list[Segment] = []
        self.keys, self.origin = merge([])

    @property
    def nbytes(self) -> int:
        return self.keys.raw.nbytes + self.keys._prefix.nbytes + self.origin.nbytes

    def extend(self, segments: list[Segment]) -> None:
        if not segments:
            return
        runs = [(self.keys.raw, self.origin)]
        for i, segment in enumerate(segments, start=len(self.segments)):
            keys, rows = segment.index()
            runs.append((keys, (np.int64(i) << 32) | rows.astype(np.int64)))
        self.keys, self.origin = merge(runs)
        self.segments += segments


def read_only(path: Path) -> str:
    return (
        f"feature store {path} is read-only (this user cannot write it, or its disk is mounted "
        "read-only): vectors it holds can be read, new ones cannot be stored. Give a store you "
        "can write (--store, embed.store), or ask its owner to run the extraction"
    )


def _write_atomic(path: Path, content: dict) -> None:
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.write_text(json.dumps(content, sort_keys=True, indent=1))
    publish_file(part, path)  # durable like segments: a crash never leaves an empty spec
