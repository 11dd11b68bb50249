"""Hash once: (absolute path, size, mtime, ctime, inode) -> SHA-256 in SQLite beside the store,
like DVC's state and git's index.

A re-run over a million unchanged files stats them instead of reading them. A file whose
size, modification time, change time (nanoseconds) or inode changed is hashed again: by
`hash_files` in parallel threads (hashlib releases the GIL while it digests), or, during an
extraction, by the decoder that reads its bytes anyway (`lookup_files` says which files
those are). The change time catches a file rewritten in place whose mtime was set back
(`touch -r`): only the kernel sets ctime.

It is a cache, so it is never trusted blindly and never fatal: a damaged file is set aside
and rebuilt, a read-only one is read and not written, a full disk leaves it as it was; each
says so in one warning, and the files it cannot vouch for are hashed again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .digest import sha256_file, unreadable
from .keys import KEY_BYTES, hex_or_blank, to_raw

log = logging.getLogger(__name__)

_QUERY_CHUNK = 500  # below SQLite's limit on bound parameters
_TABLE = "files"  # with ctime; the table `hashes` of earlier versions is dropped
_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {_TABLE}"
    " (path TEXT PRIMARY KEY, size INT, mtime_ns INT, ctime_ns INT, inode INT, sha256 TEXT)"
)

FileState = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode: what says a file is unchanged


def file_state(stat: os.stat_result) -> FileState:
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino


class HashCache:
    """The SQLite file at `path` (created on first use); safe for many processes at once.
    `writable=False` reads it where it is (a store this user cannot write) and remembers nothing."""

    def __init__(self, path: str | os.PathLike, writable: bool = True):
        self.path = Path(path)
        self.writable = writable

    def lookup(self, paths: Sequence[str]) -> dict[str, tuple[int, int, int, int, str]]:
        """path -> (size, mtime_ns, ctime_ns, inode, sha256) for the paths the cache knows."""
        absolute = [os.path.abspath(path) for path in paths]  # one entry whatever the cwd
        known = {}
        try:
            with self._connect() as db:
                if db is None:
                    return {}
                for start in range(0, len(absolute), _QUERY_CHUNK):
                    chunk = absolute[start : start + _QUERY_CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows = db.execute(f"SELECT * FROM {_TABLE} WHERE path IN ({marks})", chunk)
                    known.update((path, tuple(rest)) for path, *rest in rows)
        except sqlite3.DatabaseError as exc:
            self.set_aside(exc)
            return {}
        return {path: known[a] for path, a in zip(paths, absolute, strict=True) if a in known}

    def remember(self, entries: list[tuple[str, int, int, int, int, str]]) -> None:
        """Cache (path, size, mtime_ns, ctime_ns, inode, sha256) entries."""
        if not entries or not self.writable:
            return
        rows = [(os.path.abspath(path), *rest) for path, *rest in entries]
        try:
            with self._connect() as db:
                db.executemany(f"INSERT OR REPLACE INTO {_TABLE} VALUES (?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.OperationalError as exc:  # a full disk, a read-only file: it stays as it was
            log.warning(
                "hash cache %s could not be updated (%s): %d files will be hashed again next time",
                self.path, exc, len(rows),
            )  # fmt: skip
        except sqlite3.DatabaseError as exc:
            self.set_aside(exc)

    def _connect(self) -> _Connection:
        return _Connection(self)

    def _open(self) -> sqlite3.Connection | None:
        if not self.writable:
            if not self.path.is_file():
                return None
            # immutable: no locks and no -shm file, which a read-only folder could not hold
            return sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=60)
        try:
            connection.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            connection.execute(_SCHEMA)
            connection.execute("DROP TABLE IF EXISTS hashes")  # no change time: cannot vouch for a file
        except BaseException:
            connection.close()
            raise
        return connection

    def problem(self) -> str | None:
        """What SQLite's integrity check finds wrong with the file, or None (also when absent)."""
        if not self.path.is_file():
            return None
        try:
            with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as db:
                (answer,) = db.execute("PRAGMA integrity_check").fetchone()
        except sqlite3.DatabaseError as exc:
            answer = str(exc)
        return None if answer == "ok" else answer

    def set_aside(self, exc: Exception | str) -> None:
        """Set the file aside (it is only a cache) so the next use starts a new one."""
        if not self.writable:
            log.warning("hash cache %s cannot be read (%s): every file is hashed", self.path, exc)
            return
        aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
        log.warning(
            "hash cache %s was damaged (%s): set aside as %s and started again; files are hashed "
            "again once", self.path, exc, aside.name,
        )  # fmt: skip


class _Connection:
    """`with` a connection that commits and closes, or None when there is no file to read."""

    def __init__(self, cache: HashCache):
        self.cache = cache

    def __enter__(self) -> sqlite3.Connection | None:
        self.db = self.cache._open()
        return self.db

    def __exit__(self, kind, *rest) -> None:
        if self.db is not None:
            if kind is None:
                self.db.commit()
            self.db.close()


@dataclass
class Lookup:
    """What stat alone tells about each file: its key where the cache knows it unchanged. Arrays,
    not lists of strings: a million files cost about 70 MB here, not a gigabyte."""

    raw: np.ndarray  # (n, 32) uint8 keys; zero rows where `known` is False
    known: np.ndarray  # (n,) bool: the cache vouches for the file's key
    stale: np.ndarray  # sorted positions of the files to hash (new, changed)
    states: np.ndarray  # (len(stale), 4) int64: each one's FileState when looked up
    unreadable: dict[int, str]  # position -> why the file cannot be read

    def hex_keys(self) -> list[str]:
        """Hex keys by position, "" where not known."""
        return hex_or_blank(self.raw, self.known)

    def stale_states(self) -> Iterator[tuple[int, FileState]]:
        return stale_states(self.stale, self.states)


def stale_states(stale: np.ndarray, states: np.ndarray) -> Iterator[tuple[int, FileState]]:
    """(position, FileState) pairs from the arrays a lookup keeps them in."""
    return zip(stale.tolist(), map(tuple, states.tolist()), strict=True)


_LOOKUP_CHUNK = 65_536  # files stat-ed and looked up at a time: what planning holds beyond its arrays


def lookup_files(
    paths: Sequence[str | os.PathLike], cache: HashCache | None = None, workers: int = 8
) -> Lookup:
    """Stat every file (in parallel threads) and take its key from `cache` where it is unchanged;
    nothing is read. The files left in `stale` are hashed by whoever reads them next. Done a
    chunk at a time, so memory beyond the result does not grow with the files."""
    n = len(paths)
    raw, known = np.zeros((n, KEY_BYTES), np.uint8), np.zeros(n, bool)
    stale: list[np.ndarray] = []
    states: list[np.ndarray] = []
    unreadable: dict[int, str] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, n, _LOOKUP_CHUNK):
            chunk = [os.fspath(p) for p in paths[start : start + _LOOKUP_CHUNK]]
            cached = cache.lookup(chunk) if cache else {}
            hits, digests, chunk_stale, chunk_states = [], [], [], []
            states_now = pool.map(_state, chunk, chunksize=256)
            for offset, (path, now) in enumerate(zip(chunk, states_now, strict=True)):
                hit = cached.get(path)
                if isinstance(now, str):
                    unreadable[start + offset] = now
                elif hit and hit[:4] == now:
                    hits.append(start + offset)
                    digests.append(hit[4])
                else:
                    chunk_stale.append(start + offset)
                    chunk_states.append(now)
            raw[hits], known[hits] = to_raw(digests), True
            stale.append(np.asarray(chunk_stale, np.int64))
            states.append(np.asarray(chunk_states, np.int64).reshape(-1, 4))
    return Lookup(
        raw,
        known,
        np.concatenate(stale) if stale else np.empty(0, np.int64),
        np.concatenate(states) if states else np.empty((0, 4), np.int64),
        unreadable,
    )


def _state(path: str) -> FileState | str:
    try:
        return file_state(os.stat(path))
    except OSError as exc:
        return unreadable(exc)


def hash_files(
    paths: Sequence[str | os.PathLike], cache: HashCache | None = None, workers: int = 8
) -> tuple[list[str], dict[int, str]]:
    """The SHA-256 of each file, from `cache` where the file is unchanged; and, by position,
    why a file could not be read (its key is then "")."""
    found = lookup_files(paths, cache, workers)
    keys, unreadable = found.hex_keys(), found.unreadable

    def one(position: int) -> tuple[int, str | None, str | None]:
        try:
            return position, sha256_file(paths[position]), None
        except OSError as exc:
            return position, None, unreadable(exc)

    entries = []
    stale = dict(found.stale_states())
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for position, digest, reason in pool.map(one, stale, chunksize=256):
            if reason:
                unreadable[position] = reason
            else:
                keys[position] = digest
                entries.append((os.fspath(paths[position]), *stale[position], digest))
    if cache:
        cache.remember(entries)
    return keys, dict(sorted(unreadable.items()))
