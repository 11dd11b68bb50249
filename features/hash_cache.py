"""Hash once: (absolute path, size, mtime, inode) -> SHA-256 in SQLite beside the store, like DVC's state.

A re-run over a million unchanged files stats them instead of reading them. A file whose
size, modification time (nanoseconds) or inode changed is hashed again: by `hash_files` in
parallel threads (hashlib releases the GIL while it digests), or, during an extraction, by
the decoder that reads its bytes anyway (`lookup_files` says which files those are).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .hashing import sha256_file, unreadable

_QUERY_CHUNK = 500  # below SQLite's limit on bound parameters
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS hashes"
    " (path TEXT PRIMARY KEY, size INT, mtime_ns INT, inode INT, sha256 TEXT)"
)


class HashCache:
    """The SQLite file at `path` (created on first use); safe for many processes at once."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=60)
        connection.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
        connection.execute(_SCHEMA)
        return connection

    def lookup(self, paths: Sequence[str]) -> dict[str, tuple[int, int, int, str]]:
        """path -> (size, mtime_ns, inode, sha256) for the paths the cache knows."""
        absolute = [os.path.abspath(path) for path in paths]  # one entry whatever the cwd
        known = {}
        with self._connect() as db:
            for start in range(0, len(absolute), _QUERY_CHUNK):
                chunk = absolute[start : start + _QUERY_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(f"SELECT * FROM hashes WHERE path IN ({marks})", chunk)
                known.update((path, tuple(rest)) for path, *rest in rows)
        return {path: known[a] for path, a in zip(paths, absolute, strict=True) if a in known}

    def remember(self, entries: list[tuple[str, int, int, int, str]]) -> None:
        """Cache (path, size, mtime_ns, inode, sha256) entries."""
        if entries:
            rows = [(os.path.abspath(path), *rest) for path, *rest in entries]
            with self._connect() as db:
                db.executemany("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?)", rows)


FileState = tuple[int, int, int]  # size, mtime_ns, inode: what says a file is unchanged


@dataclass
class Lookup:
    """What stat alone tells about each file: its key where the cache knows it unchanged."""

    keys: list[str]  # "" where the file must be hashed (new, changed) or cannot be read
    stale: dict[int, FileState]  # position -> state, for the files to hash
    unreadable: dict[int, str]  # position -> why the file cannot be read


def lookup_files(paths: Sequence[str], cache: HashCache | None = None, workers: int = 8) -> Lookup:
    """Stat every file (in parallel threads) and take its key from `cache` where it is unchanged;
    nothing is read. The files left in `stale` are hashed by whoever reads them next."""
    paths = [str(p) for p in paths]
    known = cache.lookup(paths) if cache else {}

    def state(path: str) -> FileState | str:
        try:
            stat = os.stat(path)
        except OSError as exc:
            return unreadable(exc)
        return stat.st_size, stat.st_mtime_ns, stat.st_ino

    with ThreadPoolExecutor(max_workers=workers) as pool:
        states = list(pool.map(state, paths, chunksize=256))
    found = Lookup([""] * len(paths), {}, {})
    for position, (path, now) in enumerate(zip(paths, states, strict=True)):
        cached = known.get(path)
        if isinstance(now, str):
            found.unreadable[position] = now
        elif cached and cached[:3] == now:
            found.keys[position] = cached[3]
        else:
            found.stale[position] = now
    return found


def hash_files(
    paths: Sequence[str], cache: HashCache | None = None, workers: int = 8
) -> tuple[list[str], dict[int, str]]:
    """The SHA-256 of each file, from `cache` where the file is unchanged; and, by position,
    why a file could not be read (its key is then "")."""
    paths = [str(p) for p in paths]
    found = lookup_files(paths, cache, workers)
    keys, unreadable = found.keys, found.unreadable

    def one(position: int) -> tuple[int, str | None, str | None]:
        try:
            return position, sha256_file(paths[position]), None
        except OSError as exc:
            return position, None, unreadable(exc)

    entries = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for position, digest, reason in pool.map(one, found.stale, chunksize=256):
            if reason:
                unreadable[position] = reason
            else:
                keys[position] = digest
                entries.append((paths[position], *found.stale[position], digest))
    if cache:
        cache.remember(entries)
    return keys, dict(sorted(unreadable.items()))
