"""`open_store(path)`: the store at a path, of the kind found there, picked once."""

from __future__ import annotations

import os
from pathlib import Path

from ..exceptions import StoreError
from .base import Store
from .segments import SegmentStore
from .v1 import V1Store, is_v1_store


def open_store(path: str | os.PathLike, **options) -> Store:
    """A version-1 file is read as it is; anything else is a segment store (created on first
    write). `options` (max_bytes, max_seconds) go to the segment store."""
    path = Path(path).expanduser()
    return V1Store(path) if is_v1_store(path) else SegmentStore(path, **options)


def open_existing(path: str | os.PathLike) -> Store:
    """The store at `path`, for a command that only reads or repairs it: one must be there."""
    if not Path(path).expanduser().exists():
        raise StoreError(f"no store at {path}")
    return open_store(path)
