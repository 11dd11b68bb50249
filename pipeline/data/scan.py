"""Scan a class-per-folder image tree: hash every file, settle duplicates, check decoding."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from features import list_images
from features.images import check_images

from ..exceptions import DataError


@dataclass(frozen=True)
class Item:
    path: str  # relative to the data root, POSIX separators
    label: str
    sha256: str


@dataclass(frozen=True)
class Excluded:
    path: str
    reason: str


@dataclass
class Scan:
    items: list[Item]
    excluded: list[Excluded]
    ignored: list[str]  # files without an image extension


def scan_folder(root: Path, workers: int = 4) -> Scan:
    """Every image under `root/<class>/`, with the exclusions explained.

    Duplicates (byte-identical files) within a class keep their first path in sorted
    order; the others are excluded with a note. The same bytes under two classes is a
    labelling contradiction and stops the scan: no split could be honest about it.
    """
    if not root.is_dir():
        raise DataError(
            f"data root {str(root)!r} does not exist. Point data.root in params.yaml at a "
            "folder with one sub-folder of images per class, or fetch the default Caltech "
            "101 subset into it with `dvc repro download` (or `workbench download`)."
        )
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files, ignored, unusable = [], [], []
    for class_dir in class_dirs:
        listing = list_images([class_dir])
        files += [(path, class_dir.name) for path in listing.images]
        ignored += listing.ignored
        unusable += [Excluded(_relative(path, root), reason) for path, reason in listing.problems]
    if not files:
        raise DataError(f"no images under {root}/<class>/ (extensions: jpg, png, bmp, gif, webp, tiff)")

    checks = check_images([path for path, _ in files], workers)

    items, excluded = [], []
    for (path, label), (digest, problem) in zip(files, checks, strict=True):
        rel = _relative(path, root)
        if problem:
            excluded.append(Excluded(rel, problem))
        else:
            items.append(Item(rel, label, digest))
    items, duplicates = _settle_duplicates(items)
    return Scan(items, unusable + excluded + duplicates, [_relative(p, root) for p in ignored])


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _settle_duplicates(items: list[Item]) -> tuple[list[Item], list[Excluded]]:
    by_digest: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_digest[item.sha256].append(item)
    conflicts = [group for group in by_digest.values() if len({i.label for i in group}) > 1]
    if conflicts:
        lines = "\n".join(
            "  " + ", ".join(f"{i.path} ({i.label})" for i in group) for group in conflicts[:10]
        )
        raise DataError(
            f"{len(conflicts)} images appear byte-identical under different classes:\n{lines}\n"
            "Delete the copies in the wrong class (or all of them), then run prepare again."
        )
    kept, dropped = [], []
    for item in items:
        first = by_digest[item.sha256][0]
        if item is first:
            kept.append(item)
        else:
            dropped.append(Excluded(item.path, f"duplicate of {first.path}"))
    return kept, dropped
