"""Advisory file locks, and publishing a file durably (fsync, rename, fsync the folder)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator


@contextlib.contextmanager
def file_lock(path: str | os.PathLike, exclusive: bool) -> Iterator[None]:
    """Hold a shared (readers) or exclusive (writer) lock on `path` for the block.

    The kernel drops the lock when the process dies, so a killed writer never leaves
    the store locked.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def try_lock(path: str | os.PathLike) -> int | None:
    """An exclusive lock on `path` (created if absent) as an open descriptor to close when done,
    or None when a live process holds it. A dead holder's lock is gone with it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def publish_file(part: str | os.PathLike, target: str | os.PathLike) -> None:
    """Rename `part` to `target` so that a crash leaves either no file or the whole file."""
    _fsync(part)  # the bytes are on disk before the name says they are there
    os.rename(part, target)
    _fsync(os.path.dirname(os.fspath(target)) or ".")


def _fsync(path: str | os.PathLike) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
