"""Hash once: (path, size, mtime, inode) -> SHA-256 in SQLite beside the store, as DVC keeps its state.

A re-run over a million unchanged files stats them instead of reading them. A file whose
size, modification time (nanoseconds) or inode changed is hashed again; files are hashed
in parallel threads (hashlib releases the GIL while it digests).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .hashing import sha256_file

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
        known = {}
        with self._connect() as db:
            for start in range(0, len(paths), _QUERY_CHUNK):
                chunk = paths[start : start + _QUERY_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(f"SELECT * FROM hashes WHERE path IN ({marks})", chunk)
                known.update((path, tuple(rest)) for path, *rest in rows)
        return known

    def remember(self, entries: list[tuple[str, int, int, int, str]]) -> None:
        if entries:
            with self._connect() as db:
                db.executemany("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?)", entries)


def hash_files(
    paths: Sequence[str], cache: HashCache | None = None, workers: int = 8
) -> tuple[list[str], dict[int, str]]:
    """The SHA-256 of each file, from `cache` where the file is unchanged; and, by position,
    why a file could not be read (its key is then "")."""
    paths = [str(p) for p in paths]
    known = cache.lookup(paths) if cache else {}

    def one(path: str) -> tuple[str, tuple | None, str | None]:
        try:
            stat = os.stat(path)
            state = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
            cached = known.get(path)
            if cached and cached[:3] == state:
                return cached[3], None, None
            digest = sha256_file(path)
        except OSError as exc:
            return "", None, f"cannot read file: {exc.strerror or exc}"
        return digest, (path, *state, digest), None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, paths, chunksize=256))
    if cache:
        cache.remember([entry for _, entry, _ in results if entry])
    errors = {i: reason for i, (_, _, reason) in enumerate(results) if reason}
    return [digest for digest, _, _ in results], errors
