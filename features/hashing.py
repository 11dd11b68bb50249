"""Content keys: SHA-256 of a file's bytes (many at once: hash_cache.hash_files), and derived keys."""

from __future__ import annotations

import hashlib
import os

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_hashed(path: str | os.PathLike) -> tuple[bytes, str]:
    """A file's bytes and their hex SHA-256, for a caller that decodes them too: one read."""
    with open(path, "rb") as handle:
        data = handle.read()
    return data, hashlib.sha256(data).hexdigest()


def unreadable(exc: OSError) -> str:
    """Why a file could not be read, in the words every failure record uses."""
    return f"cannot read file: {exc.strerror or exc}"


def derived_key(clean_key: str, transform: str) -> str:
    """Key for a transformed copy of an image: stable, and never equal to a clean key."""
    return hashlib.sha256(f"{clean_key}|{transform}".encode()).hexdigest()
