"""Files kept beside the store that vectors depend on (the ONNX export, its int8 model, the
calibration probe): each recorded with its SHA-256 when built and checked when loaded, as the
store's rows are. A file that fails (changed, cut short, unreadable, or with no record) is set
aside under `damaged/` with a note saying why, and built again from its recipe; never used."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..hashing.digest import sha256_file
from ..locking import publish_file

log = logging.getLogger(__name__)

DAMAGED = "damaged"


def record_of(path: Path) -> Path:
    return path.with_name(f"{path.name}.sha256")


def publish(part: Path, path: Path) -> None:
    """Publish a built file: its hash recorded first, then the file renamed into place (a crash
    between the two leaves a record without a file, which the next build replaces)."""
    record = record_of(path)
    note = record.with_name(f".{record.name}.{os.getpid()}.part")
    note.write_text(sha256_file(part) + "\n")
    publish_file(note, record)
    publish_file(part, path)


def problem(path: Path) -> str | None:
    """Why `path` may not be used (None: it matches its record)."""
    record = record_of(path)
    try:
        expected = record.read_text().strip()
    except FileNotFoundError:
        return "no content hash recorded (built by an older version, or its record was lost)"
    except OSError as exc:
        return f"its record {record.name} cannot be read ({exc.strerror or exc})"
    try:
        actual = sha256_file(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if actual != expected:
        return f"its content changed since it was built (SHA-256 {actual[:12]}, recorded {expected[:12]})"
    return None


def usable(path: Path) -> bool:
    """Whether `path` exists and matches its record; one that does not is set aside, so the
    caller builds it again."""
    if not path.is_file():
        return False
    why = problem(path)
    if why is None:
        return True
    set_aside(path, why)
    return False


def set_aside(path: Path, why: str) -> Path:
    """Move `path` (and its record) to `damaged/` beside it, with a note; logged once."""
    target_dir = path.parent / DAMAGED
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    os.replace(path, target)
    if record_of(path).exists():
        os.replace(record_of(path), record_of(target))
    target.with_name(f"{target.name}.txt").write_text(f"{path}: {why}\n")
    log.warning("%s: %s; set aside as %s and built again", path, why, target)
    return target


def check_all(directory: Path) -> list[tuple[Path, str]]:
    """Every side file in `directory` that may not be used, with why (for `verify`)."""
    if not directory.is_dir():
        return []
    kept = [p for p in sorted(directory.iterdir()) if p.is_file() and p.suffix in (".onnx", ".npy")]
    return [(path, why) for path in kept if (why := problem(path)) is not None]
