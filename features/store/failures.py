"""Images that could not be used: the record, and its files in a store (one small HDF5 file each)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import PIL

from ..locking import publish_file
from .space import ensure_room

_STR = h5py.string_dtype()
# Who decided an image cannot be decoded: a failure recorded under another decoder (a Pillow
# upgrade that reads more formats) is tried again, never trusted.
DECODER = f"Pillow {PIL.__version__}"


@dataclass(frozen=True)
class Failure:
    """An image that could not be used, and why."""

    path: str
    reason: str
    key: str = ""
    decoder: str = DECODER  # records written before decoders were recorded read as ""

    @property
    def current(self) -> bool:
        """Whether this machine's decoder made the record (else the image is decoded again)."""
        return self.decoder == DECODER


def write_failures(directory: Path, name: str, failures: Sequence[Failure]) -> None:
    """Publish one failures file atomically (written aside, fsynced, renamed into place)."""
    directory.mkdir(parents=True, exist_ok=True)
    part = directory / f".{name}.part"
    ensure_room(part, sum(len(f.path) + len(f.reason) + 96 for f in failures))
    with h5py.File(part, "w", locking=False) as h5:
        for field in ("key", "path", "reason", "decoder"):
            h5.create_dataset(field, data=[getattr(f, field) for f in failures], dtype=_STR)
    publish_file(part, directory / name)


def read_failures(directory: Path) -> list[Failure]:
    """Every recorded failure, once per key and decoder (the earliest record), in the order
    recorded."""
    seen: dict[tuple[str, str], Failure] = {}
    for path in sorted(directory.glob("*.h5")) if directory.is_dir() else []:
        with h5py.File(path, "r", locking=False) as h5:
            columns = [h5[field].asstr()[:] for field in ("key", "path", "reason")]
            decoders = h5["decoder"].asstr()[:] if "decoder" in h5 else [""] * len(columns[0])
            for key, path_, reason, decoder in zip(*columns, decoders, strict=True):
                seen.setdefault((key, decoder), Failure(path_, reason, key, decoder))
    return list(seen.values())
