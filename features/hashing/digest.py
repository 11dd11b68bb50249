"""Content keys: SHA-256 of a file's bytes (many at once: hash_cache.hash_files), and derived keys."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from typing import BinaryIO

_CHUNK = 1 << 20


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """`path` opened for reading, or OSError when it is not a regular file: a FIFO, a socket or
    a device is refused without being read (O_NONBLOCK: opening a FIFO no writer holds would
    otherwise wait forever)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"not a regular file ({file_kind(mode)}), never read", str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    kinds = {stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a character device",
             stat.S_ISBLK: "a block device", stat.S_ISDIR: "a folder"}  # fmt: skip
    return next((kind for test, kind in kinds.items() if test(mode)), "not a file")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_hashed(path: str | os.PathLike) -> tuple[bytes, str]:
    """A file's bytes and their hex SHA-256, for a caller that decodes them too: one read."""
    with open_regular(path) as handle:
        data = handle.read()
    return data, hashlib.sha256(data).hexdigest()


def unreadable(exc: OSError) -> str:
    """Why a file could not be read, in the words every failure record uses."""
    if exc.errno == errno.ELOOP:
        return "symlink loop: the link leads back to itself"
    return f"cannot read file: {exc.strerror or exc}"


def derived_key(clean_key: str, transform: str) -> str:
    """Key for a transformed copy of an image: stable, and never equal to a clean key."""
    return hashlib.sha256(f"{clean_key}|{transform}".encode()).hexdigest()
