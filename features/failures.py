"""Images that could not be used: the record, and its files in a store (one small HDF5 file each)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py

from .locking import publish_file
from .space import ensure_room

_STR = h5py.string_dtype()


@dataclass(frozen=True)
class Failure:
    """An image that could not be used, and why."""

    path: str
    reason: str
    key: str = ""


def write_failures(directory: Path, name: str, failures: Sequence[Failure]) -> None:
    """Publish one failures file atomically (written aside, fsynced, renamed into place)."""
    directory.mkdir(parents=True, exist_ok=True)
    part = directory / f".{name}.part"
    ensure_room(part, sum(len(f.path) + len(f.reason) + 96 for f in failures))
    with h5py.File(part, "w", locking=False) as h5:
        for field in ("key", "path", "reason"):
            h5.create_dataset(field, data=[getattr(f, field) for f in failures], dtype=_STR)
    publish_file(part, directory / name)


def read_failures(directory: Path) -> list[Failure]:
    """Every recorded failure, once per key (the earliest record), in the order recorded."""
    seen: dict[str, Failure] = {}
    for path in sorted(directory.glob("*.h5")) if directory.is_dir() else []:
        with h5py.File(path, "r", locking=False) as h5:
            rows = zip(*(h5[field].asstr()[:] for field in ("key", "path", "reason")), strict=True)
            for key, path_, reason in rows:
                seen.setdefault(key, Failure(path_, reason, key))
    return list(seen.values())
