"""Keeping a segment store whole: recover dead writers' rows, quarantine damage, compact.

Each works through `SegmentStore`'s public methods, so the store's reading code and these
repairs share one view of which segments are published.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import StoreError
from ..locking import try_lock
from .failures import read_failures, write_failures
from .segment import Salvage, SegmentDamaged, failing_checks, new_name, read_all, recover_open, rows_text
from .writer import StoreWriter

if TYPE_CHECKING:
    from .segments import SegmentStore


def recover(store: SegmentStore, fingerprint: str) -> None:
    """Publish the committed rows of writers that died, those that pass their checks; remove
    their files."""
    directory = store.path / fingerprint / "open"
    for path in sorted(directory.glob("*.h5")) if directory.is_dir() else []:
        what = recover_open(
            path,
            store.path / fingerprint,
            lambda rows: _salvage_into(store, fingerprint, rows),
            lambda damaged, why: _move_to_quarantine(store, fingerprint, damaged, why),
        )
        if what:
            store.incident(f"{path.name}: {what}")


def quarantine(store: SegmentStore, fingerprint: str, path: Path, what: str) -> None:
    """Move a published segment that failed a check to quarantine/, its good rows copied to a
    new segment first (the store has forgotten it already)."""
    moved = _move_to_quarantine(store, fingerprint, path, what)
    if moved is None:
        return  # another process moved it first
    try:
        found = read_all(moved)
    except (OSError, KeyError, ValueError, SegmentDamaged) as exc:
        store.incident(
            f"segment {path.name}: {what}; moved to {moved}; none of its rows could be salvaged ({exc}): "
            "the next extraction computes them again"
        )
        return
    kept = _salvage_into(store, fingerprint, found) if len(found.keys) else 0
    store.incident(
        f"segment {path.name}: {what}; moved to {moved}, {rows_text(kept)} kept in a new segment; the "
        "next extraction computes the vectors it lost"
    )


def compact(store: SegmentStore, fingerprint: str | None = None, small_only: bool = False) -> str:
    """Publish what dead writers left, then merge segments (duplicates dropped) into one.

    `small_only` merges only segments under a quarter of `max_bytes`. One compaction runs at a
    time; another caller returns at once. Readers are never blocked: the merged segment is
    published before the old ones are removed.
    """
    store.check_writable()
    store.create()
    lock = try_lock(store.path / ".compact.lock")
    if lock is None:
        return "another compaction is running"
    try:
        notes = [
            note
            for fp in ([fingerprint] if fingerprint else list(store.fingerprints()))
            if (note := _compact_one(store, fp, small_only))
        ]
        if fingerprint is None:  # the failures record is shared by every extractor
            notes += _compact_failures(store.path / "failures")
        return "; ".join(notes) or "nothing to compact"
    finally:
        os.close(lock)


def _compact_one(store: SegmentStore, fingerprint: str, small_only: bool) -> str | None:
    recover(store, fingerprint)
    segments = store.published(fingerprint)
    if small_only:
        segments = [s for s in segments if s.nbytes < store.max_bytes // 4]
    if len(segments) < 2:
        return None
    damaged = dict.fromkeys((s.path for s in segments), 0)
    with _whole_writer(store, fingerprint) as writer:
        for segment in segments:
            for raw, vectors, paths, bad in segment.blocks():
                writer.append(raw, vectors, paths, skip_stored=False)
                damaged[segment.path] += bad
    for segment in segments:
        if damaged[segment.path]:  # its good rows are merged; keep the evidence
            _move_to_quarantine(store, fingerprint, segment.path, failing_checks(damaged[segment.path]))
        else:
            segment.path.unlink()
    store.forget(fingerprint, [s.path for s in segments])
    lost = sum(damaged.values())
    left_out = f"; {lost} damaged rows left out, computed again by the next extraction" if lost else ""
    return f"{fingerprint}: {len(segments)} segments -> 1 ({writer.added} rows{left_out})"


def _compact_failures(directory: Path) -> list[str]:
    """One failures file in place of the one each run left. A reader meanwhile sees a record
    twice at most (read_failures keeps one per key); a file added meanwhile stays."""
    files = sorted(directory.glob("*.h5")) if directory.is_dir() else []
    if len(files) < 2:
        return []
    merged = read_failures(directory)
    write_failures(directory, new_name(), merged)
    for path in files:
        path.unlink()
    return [f"failures: {len(files)} files -> 1 ({len(merged)} images)"]


def _move_to_quarantine(store: SegmentStore, fingerprint: str, path: Path, what: str) -> Path | None:
    target = store.path / "quarantine" / f"{fingerprint}-{path.name}"
    target.parent.mkdir(exist_ok=True)
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    target.with_suffix(".txt").write_text(f"{path}: {what}\n")
    return target


def _salvage_into(store: SegmentStore, fingerprint: str, rows: Salvage) -> int:
    """Rows that passed their checks, into a new segment of their own; how many were added."""
    with _whole_writer(store, fingerprint) as writer:
        writer.append(rows.keys, rows.vectors, rows.paths)
    return writer.added


def _whole_writer(store: SegmentStore, fingerprint: str) -> StoreWriter:
    """A writer of one segment, published on close, that recovers nothing itself (for
    compaction, recovery and salvage, which may run inside another writer's recovery)."""
    meta = store.spec(fingerprint)
    if meta is None:
        raise StoreError(
            f"{store.path / fingerprint / 'spec.json'} is damaged: run `workbench verify {store.path}`"
        )
    return StoreWriter(store, fingerprint, meta["spec"], max_bytes=None, max_seconds=None, recover=False)
