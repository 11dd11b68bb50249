"""Advisory file locks so that processes sharing one store take turns."""

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
