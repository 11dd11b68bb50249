"""Find the images under files and folders, and say what was passed over and why."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..hashing.digest import file_kind, unreadable
from .reading import is_image_file


@dataclass
class Listing:
    """Image files found, files without an image extension, and paths that could not be used."""

    images: list[Path] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)  # (path, reason)


def list_images(inputs: list[str | os.PathLike]) -> Listing:
    """Every image file in `inputs` (files, or folders walked recursively), in sorted order.

    Dangling symlinks, unreadable files and folders that cannot be listed are reported in
    `problems` with their reason rather than skipped in silence. Symlinks are followed,
    each real folder walked once (a link cycle ends there).
    """
    listing = Listing()
    for given in map(Path, inputs):
        if given.is_dir():
            _walk(given, listing)
        else:
            _add_file(given, listing, explicit=True)
    listing.images = sorted(set(listing.images))  # a file given and found in a folder counts once
    listing.ignored = sorted(set(listing.ignored))
    return listing


def _walk(folder: Path, listing: Listing) -> None:
    def unlistable(error: OSError) -> None:
        listing.problems.append((Path(error.filename), f"cannot list folder: {error.strerror or error}"))

    seen: set[str] = set()
    for top, dirs, files in os.walk(folder, onerror=unlistable, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            dirs.clear()
            continue
        seen.add(real)
        dirs.sort()
        for name in sorted(files):
            _add_file(Path(top) / name, listing, explicit=False)


def _add_file(path: Path, listing: Listing, explicit: bool) -> None:
    """Classify `path` from its metadata alone: nothing here opens a file, so a FIFO named
    like an image is reported, never waited on."""
    shown = printable(path)
    try:
        mode = path.stat().st_mode  # follows symlinks
    except OSError as error:
        listing.problems.append((shown, _unusable(path, error)))
        return
    if not is_image_file(path):
        if explicit:
            listing.problems.append((shown, "not an image file extension"))
        else:
            listing.ignored.append(shown)
    elif not stat.S_ISREG(mode):
        listing.problems.append((shown, f"not a regular file ({file_kind(mode)}), never read"))
    elif shown != path:
        listing.problems.append(
            (shown, "its name is not valid UTF-8 (shown with \\x escapes): rename the file")
        )
    elif not os.access(path, os.R_OK):
        listing.problems.append((path, "cannot read file: permission denied"))
    else:
        listing.images.append(path)


def printable(path: Path) -> Path:
    """`path` with bytes that are not UTF-8 written as \\x escapes: a name every CSV, terminal
    and store key can hold (the file itself is never found by it)."""
    return Path(os.fsencode(path).decode("utf-8", "backslashreplace"))


def _unusable(path: Path, error: OSError) -> str:
    if path.is_symlink() and error.errno == errno.ENOENT:
        return f"dangling symlink to {os.readlink(path)}"
    if error.errno == errno.ENOENT:
        return "no such file or folder"
    return unreadable(error)
