"""The images a task names, checked: keyed, decodable, duplicates settled, exclusions explained.

A task's candidates come from class folders (`folder_candidates`) or a label table
(labels.py). `check_candidates` keys every file and checks that it decodes, reading as few
files as it can: with a feature store, a file unchanged since the store's hash cache saw it
takes its key from there, and a key the store holds vectors or a failure record for is known
to decode or not, so a task relabelling a pool the store has seen reads none of its images.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from features.hashing.cache import lookup_files
from features.images.listing import list_images
from features.images.reading import check_images, is_image_file
from features.store.base import Store

from ..exceptions import DataError


@dataclass(frozen=True)
class Candidate:
    """An image a task names, before it is read."""

    path: str  # relative to the data root (POSIX separators), or absolute
    label: str
    split: str | None = None  # given by the task (a table's split column)
    where: str = ""  # where the task names it, for messages ("labels.csv line 12")


@dataclass(frozen=True)
class Item:
    path: str  # relative to the data root, POSIX separators (absolute when outside it)
    label: str
    sha256: str
    split: str | None = None  # as given, or None: prepare draws the split


@dataclass(frozen=True)
class Excluded:
    path: str
    reason: str


@dataclass
class Scan:
    items: list[Item]
    excluded: list[Excluded]
    ignored: list[str]  # files without an image extension
    read: int = 0  # files read to key or check them (the rest were known)


def scan_folder(root: Path, workers: int = 4, store: Store | None = None) -> Scan:
    """Every image under `root/<class>/`, checked (see `check_candidates`)."""
    candidates, unusable, ignored = folder_candidates(root)
    scan = check_candidates(candidates, root, workers, store)
    scan.excluded[:0] = unusable
    scan.ignored = ignored
    return scan


def folder_candidates(root: Path) -> tuple[list[Candidate], list[Excluded], list[str]]:
    """The images under `root/<class>/` labelled by their folder; paths that cannot be listed
    (dangling links, unreadable folders); files without an image extension."""
    _check_root(root)
    entries = sorted(root.iterdir())
    class_dirs = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    candidates, ignored, unusable = [], [], []
    for entry in entries:  # what is not a class folder is named too, never dropped in silence
        if entry.is_dir() and entry.name.startswith("."):
            ignored.append(f"{entry.name}/ (a hidden folder, not read)")
        elif not entry.is_dir() and is_image_file(entry):
            unusable.append(
                Excluded(entry.name, "directly under data.root, in no class folder: move it in one")
            )
        elif not entry.is_dir():
            ignored.append(entry.name)
    for class_dir in class_dirs:
        listing = list_images([class_dir])
        candidates += [Candidate(_relative(path, root), class_dir.name) for path in listing.images]
        ignored += [_relative(path, root) for path in listing.ignored]
        unusable += [Excluded(_relative(path, root), reason) for path, reason in listing.problems]
    if not candidates:
        raise DataError(f"no images under {root}/<class>/ (extensions: jpg, png, bmp, gif, webp, tiff)")
    return candidates, unusable, ignored


def check_candidates(
    candidates: list[Candidate], root: Path, workers: int = 4, store: Store | None = None
) -> Scan:
    """Key and decode-check every candidate; exclude, with the reason, what cannot be used.

    Duplicates (byte-identical files) with one label keep their first path in the task's order;
    the others are excluded with a note. The same bytes under two labels is a labelling
    contradiction and stops the scan: no split could be honest about it.
    """
    _check_root(root)
    paths = [str(root / c.path) for c in candidates]
    cache = store.hash_cache() if store else None
    found = lookup_files(paths, cache)  # stat only: keys of the files the cache knows unchanged
    keys, reasons = found.hex_keys(), dict(found.unreadable)
    known = _known(store, keys)
    reasons.update((i, why) for i, why in known.items() if why)
    to_read = [i for i in range(len(paths)) if i not in found.unreadable and i not in known]
    for i, (key, why) in zip(to_read, check_images([paths[i] for i in to_read], workers), strict=True):
        keys[i] = key  # one read of each file serves its key and the decoding check
        if why:
            reasons[i] = why
    if cache:
        cache.remember([(paths[i], *state, keys[i]) for i, state in found.stale_states() if keys[i]])
    items, excluded = [], []
    for i, candidate in enumerate(candidates):
        if i in reasons:
            excluded.append(Excluded(candidate.path, reasons[i]))
        else:
            items.append(Item(candidate.path, candidate.label, keys[i], candidate.split))
    items, duplicates = _settle_duplicates(items)
    return Scan(items, excluded + duplicates, [], read=len(to_read))


def _known(store: Store | None, keys: list[str]) -> dict[int, str | None]:
    """position -> None for keys the store holds vectors of (they decoded), or the reason
    recorded for keys that failed to decode; positions it knows nothing of are left out."""
    if store is None or not store.path.is_dir():
        return {}
    present = [i for i, key in enumerate(keys) if key]
    known: dict[int, str | None] = {}
    for fingerprint in store.fingerprints():
        stored = store.contains(fingerprint, [keys[i] for i in present])
        known.update((i, None) for i, have in zip(present, stored, strict=True) if have)
    failed = {f.key: f.reason for f in store.failures() if f.current}  # another decoder's verdict is retried
    known.update((i, failed[keys[i]]) for i in present if i not in known and keys[i] in failed)
    return known


def _check_root(root: Path) -> None:
    if not root.is_dir():
        raise DataError(
            f"data root {str(root)!r} does not exist. Point data.root in params.yaml at the folder "
            "of images (one sub-folder per class, or the pool a label table names), or fetch the "
            "default Caltech 101 subset into it with `dvc repro download` (or `workbench download`)."
        )


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
