"""Content keys: SHA-256 of a file's bytes, and derived keys for perturbed copies."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_files(paths: Iterable[str | os.PathLike], workers: int = 4) -> list[str]:
    """Hash many files in parallel (hashlib releases the GIL), keeping their order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(sha256_file, paths))


def derived_key(clean_key: str, transform: str) -> str:
    """Key for a transformed copy of an image: stable, and never equal to a clean key."""
    return hashlib.sha256(f"{clean_key}|{transform}".encode()).hexdigest()
