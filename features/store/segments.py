"""The segment store: vectors addressed by (extractor fingerprint, SHA-256), in immutable segments.

Layout of a store directory:
    store.json                      {"format": "workbench-feature-store", "version": 2}
    <fingerprint>/spec.json         what made the vectors, and their dimension
    <fingerprint>/<segment>.h5      published segments (see segment.py), never changed
    <fingerprint>/open/<segment>.h5 one per live writer, published when full, old or closed
    failures/<name>.h5              images that could not be decoded
    quarantine/<fp>-<segment>.h5    segments that failed their checks, with a .txt saying why
    hashes.sqlite                   the hash cache (hashing/cache.py)

Writers never share a file, so any number of processes, Ray workers or machines on one
filesystem write at once without waiting. A writer killed between appends loses nothing it
committed (the next writer publishes it); killed inside an append or a publish, it loses at
most its own unpublished segment (at most `max_bytes` of vectors, `max_seconds` of work). Readers
see published segments only.

A vector is returned only when its row passes its checks (segment.py); a segment that cannot
be opened or fails a check is moved to quarantine/ with its good rows copied to a new
segment, the rest of the store keeps working, and what it lost counts as missing, so the
next extraction computes exactly that (maintenance.py repairs, verify.py checks everything
at once). A file (not a directory) at the path is a version-1 store (v1.py, picked by
`open_store`), which `python -m features convert` copies into one of these.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..exceptions import StoreError
from ..hashing.cache import HashCache
from ..hashing.keys import KEY_BYTES, SortedKeys, merge, to_hex, to_raw
from ..locking import publish_file
from . import maintenance
from .base import MissingVectors, SegmentInfo, Store
from .failures import Failure, read_failures, write_failures
from .segment import Segment, SegmentDamaged, failing_checks, new_name, write_failed
from .writer import StoreWriter

log = logging.getLogger(__name__)

FORMAT = "workbench-feature-store"
VERSION = 2
HASHES = "hashes.sqlite"  # the hash cache's file
# Defaults measured with bench/scale.py: publishing costs one fsync and an index sort, so a
# segment of 256 MiB (32,768 2048-d vectors) makes that cost negligible beside the writes and
# keeps a million vectors in about 30 files; a minute bounds what a kill can take on a machine
# of any speed.
MAX_BYTES = 256 * 2**20
MAX_SECONDS = 60.0
_MARKER_PART = re.compile(r"\.store\.json\.\d+\.part")  # what `_write_atomic` leaves if killed


class SegmentStore(Store):
    """Content-addressed vectors for any number of extractors, in a directory of segments."""

    def __init__(self, path: str | os.PathLike, max_bytes: int = MAX_BYTES, max_seconds: float = MAX_SECONDS):
        self.path = Path(path).expanduser()
        self.max_bytes, self.max_seconds = max_bytes, max_seconds
        if self.path.is_file():
            raise StoreError(f"{self.path} is a file but not a feature store; a store is a directory")
        self._segments: dict[Path, Segment] = {}  # loaded once: published segments never change
        self._indexes: dict[str, _Index] = {}
        self._excluded: set[Path] = set()  # damaged, but could not be moved (a read-only store)
        self.incidents: list[str] = []  # damage this process found and set aside, for the run's summary

    # -- reading -------------------------------------------------------------------

    def fingerprints(self) -> dict[str, dict]:
        """Every fingerprint in the store with its spec and stored row count."""
        out = {}
        for directory in sorted(p for p in self.path.glob("*") if (p / "spec.json").is_file()):
            meta = self.spec(directory.name)
            if meta is not None:
                rows = sum(s.count for s in self.published(directory.name))
                out[directory.name] = {**meta["spec"], "dim": meta["dim"], "count": rows}
        return out

    def contains(self, fingerprint: str, keys: Sequence[str] | np.ndarray) -> np.ndarray:
        """Boolean mask: which of `keys` (hex, or (n, 32) raw bytes) have a vector under `fingerprint`."""
        raw = keys if isinstance(keys, np.ndarray) else to_raw(keys)
        return self.locate(fingerprint, raw)[0] >= 0

    def get(self, fingerprint: str, keys: Sequence[str]) -> np.ndarray:
        """Vectors for `keys` in their order; raises MissingVectors (a KeyError) naming absent
        keys, including any whose row failed its checks just now (its segment is quarantined)."""
        raw = to_raw(keys)
        try:
            return self._read(fingerprint, raw, keys)
        except FileNotFoundError:  # compacted away since it was listed: look again
            return self._read(fingerprint, raw, keys)

    def index_bytes(self, fingerprint: str) -> int:
        """The memory `fingerprint`'s lookup index holds (about 48 bytes per vector)."""
        self.stored_keys(fingerprint)
        return self._indexes[fingerprint].nbytes

    def stored_keys(self, fingerprint: str) -> SortedKeys:
        """Every key stored under `fingerprint`, sorted: the lookup index, for a process that
        cannot reach the store (the Ray engine's claims) to search."""
        self.locate(fingerprint, np.empty((0, KEY_BYTES), np.uint8))  # merge what is new
        return self._indexes[fingerprint].keys

    def failures(self) -> list[Failure]:
        return read_failures(self.path / "failures")

    def rows(self, fingerprint: str, block: int = 65536) -> Iterator[tuple[list[str], np.ndarray, list[str]]]:
        """Every stored (keys, vectors, paths) under `fingerprint` once, `block` rows at a time."""
        segments = self.published(fingerprint)
        if not segments:
            raise StoreError(f"{self.path} holds no vectors of extractor {fingerprint}")
        damaged = []
        for s, segment in enumerate(segments):
            bad = 0
            for raw, vectors, paths, failed in segment.blocks(block):
                bad += failed
                # a key written by two writers at once is in two segments: the index names one
                fresh = self.locate(fingerprint, raw)[0] == s
                yield to_hex(raw[fresh]), vectors[fresh], [p for p, f in zip(paths, fresh, strict=True) if f]
            if bad:
                damaged.append((segment, failing_checks(bad)))
        for segment, what in damaged:  # left out above; the next extraction computes them
            self.quarantine(fingerprint, segment.path, what)

    def segments(self) -> list[SegmentInfo]:
        """Every published segment with its rows and size on disk."""
        return [
            SegmentInfo(fp, s.path.name, s.count, s.path.stat().st_size)
            for fp in self.fingerprints()
            for s in self.published(fp)
        ]

    # -- writing -------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        """Whether this process can write the store (or create it): not a read-only disk, not
        another user's folder."""
        existing = next(p for p in (self.path, *self.path.parents) if p.exists())
        return os.access(existing, os.W_OK | os.X_OK)

    def exports(self) -> Path | None:
        """Where the CPU runtimes' exports of the network are kept: beside the vectors (none, so
        the default folder, for a store this user cannot write)."""
        if not self.writable:
            return None
        self.create()  # the folder goes inside, so it must be a store first
        return self.path / "exports"

    def hash_cache(self) -> HashCache | None:
        """The (path, size, mtime, ctime, inode) -> SHA-256 cache kept beside the vectors;
        read-only when the store is."""
        if not self.writable:
            return HashCache(self.path / HASHES, writable=False)
        self.create()  # the cache file makes the directory, so it must be a store first
        return HashCache(self.path / HASHES)

    def writer(self, fingerprint: str, spec: dict) -> StoreWriter:
        """A writer of its own (use it as a context manager: leaving it publishes)."""
        self.check_writable()
        return StoreWriter(self, fingerprint, spec, self.max_bytes, self.max_seconds)

    def add_failures(self, failures: Sequence[Failure]) -> None:
        """Record undecodable images (a key already recorded keeps its first record)."""
        self.check_writable()
        known = {(f.key, f.decoder) for f in self.failures()}
        given = {(f.key, f.decoder): f for f in failures if f.key}
        new = [f for pair, f in given.items() if pair not in known]
        if new:
            self.create()
            try:
                write_failures(self.path / "failures", new_name(), new)
            except OSError as exc:
                raise StoreError(write_failed(self.path / "failures", exc)) from exc

    # -- maintenance (maintenance.py) ----------------------------------------------

    def compact(self, fingerprint: str | None = None, small_only: bool = False) -> str:
        """Merge segments into one (all of them, or only the small ones); one line saying what."""
        return maintenance.compact(self, fingerprint, small_only)

    def recover(self, fingerprint: str) -> None:
        """Publish the committed rows of writers that died."""
        maintenance.recover(self, fingerprint)

    def quarantine(self, fingerprint: str, path: Path, what: str) -> None:
        """Set aside a published segment that failed a check, its good rows copied to a new
        segment first; said in one log line. In a store this process cannot write, the segment
        is only left out of this process's lookups."""
        self.forget(fingerprint, [path])
        if not self.writable:
            self._excluded.add(path)
            log.warning(
                "feature store %s: segment %s: %s; left out of this read (the store is read-only: run "
                "`workbench verify %s --repair` as a user who can write it)", self.path, path, what, self.path
            )  # fmt: skip
            return
        maintenance.quarantine(self, fingerprint, path, what)

    def incident(self, what: str) -> None:
        """Damage found and dealt with: logged now, and kept for the run's last lines."""
        log.warning("feature store %s: %s", self.path, what)
        self.incidents.append(what)

    def forget(self, fingerprint: str, paths: list[Path]) -> None:
        """Drop what this process loaded of segments that are gone (compacted, quarantined)."""
        for path in paths:
            self._segments.pop(path, None)
        self._indexes.pop(fingerprint, None)

    # -- the layout ------------------------------------------------------------------

    def published(self, fingerprint: str) -> list[Segment]:
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

    def locate(self, fingerprint: str, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[Segment]]:
        """(segment index or -1, row) of each key, by one binary search in the merged index."""
        while True:
            segments = self.published(fingerprint)
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
        segment_of, row_of, segments = self.locate(fingerprint, raw)
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
        meta = self.spec(fingerprint)
        return meta["dim"] if meta else 0

    def spec(self, fingerprint: str) -> dict | None:
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

    def create(self) -> None:
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

    def prepare(self, fingerprint: str, spec: dict, dim: int) -> None:
        self.create()
        meta = self.spec(fingerprint)
        if meta is not None:
            if meta["dim"] != dim:
                raise StoreError(f"{fingerprint} holds {meta['dim']}-d vectors; got {dim}-d")
            return
        (self.path / fingerprint / "open").mkdir(parents=True, exist_ok=True)
        _write_atomic(self.path / fingerprint / "spec.json", {"spec": spec, "dim": dim})


class _Index:
    """The sorted keys of a fingerprint's segments, merged, each labelled (segment << 32 | row).

    About 48 bytes per vector in memory. New segments are merged in as they appear; a key in
    several segments is found in the oldest."""

    def __init__(self):
        self.segments: list[Segment] = []
        self.keys, self.origin = merge([])

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.origin.nbytes

    def extend(self, segments: list[Segment]) -> None:
        if not segments:
            return
        runs = [(self.keys.raw, self.origin)]
        for i, segment in enumerate(segments, start=len(self.segments)):
            keys, rows = segment.index()
            runs.append((keys, (np.int64(i) << 32) | rows.astype(np.int64)))
        self.keys, self.origin = merge(runs)
        self.segments += segments


def _write_atomic(path: Path, content: dict) -> None:
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.write_text(json.dumps(content, sort_keys=True, indent=1))
    publish_file(part, path)  # durable like segments: a crash never leaves an empty spec
