"""`workbench verify STORE`: every part of a feature store checked, as `git fsck` checks a repository.

Checks store.json, each extractor's spec.json, every published segment (it opens, its index
passes its checksum and matches its rows, every row passes its checksum), the unpublished
segments (a live writer's, or a dead one's that the next write recovers), the failure records,
the hash cache and the files kept beside the vectors (ONNX exports, int8 models, probes) against
their recorded hashes. `repair` quarantines damaged segments (their good rows kept), rebuilds
store.json and sets a damaged hash cache aside.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..exceptions import StoreError
from ..hashing.cache import HashCache
from ..hashing.keys import sort_order
from ..locking import try_lock
from ..networks import side_files
from .failures import read_failures
from .segment import Segment, SegmentDamaged, failing_checks, open_h5, rows_text
from .segments import FORMAT, HASHES, VERSION, SegmentStore


@dataclass
class Finding:
    path: str
    what: str
    damage: bool  # False: worth knowing, nothing wrong (a live writer, rows without checksums)


@dataclass
class Verification:
    """What `verify_store` found; `damaged` when any finding is damage."""

    store: Path
    extractors: int = 0
    segments: int = 0
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def damaged(self) -> list[Finding]:
        return [f for f in self.findings if f.damage]

    def note(self, path, what: str, damage: bool = True) -> None:
        self.findings.append(Finding(str(path), what, damage))

    def lines(self) -> list[str]:
        out = [f"{'DAMAGED' if f.damage else 'note'}: {f.path}: {f.what}" for f in self.findings]
        out += [f"repaired: {r}" for r in self.repaired]
        state = f"{len(self.damaged)} problems" if self.damaged else "no damage"
        if self.damaged and self.repaired:
            state += f", {len(self.repaired)} repaired"
        out.append(
            f"store {self.store}: {self.extractors} extractor(s), {self.segments} segment(s), "
            f"{self.rows} rows checked: {state}"
        )
        if self.damaged and not self.repaired:
            out.append(
                f"to repair: workbench verify {self.store} --repair (damaged segments are quarantined "
                "with their good rows kept; the next extraction computes the rest)"
            )
        return out


def verify_store(store: SegmentStore, repair: bool = False) -> Verification:
    result = Verification(store.path)
    if not store.path.is_dir():
        raise StoreError(f"no store directory at {store.path}")
    _check_marker(store, result, repair)
    for spec in sorted(store.path.glob("*/spec.json")):
        fingerprint = spec.parent.name
        meta = store.spec(fingerprint)
        if meta is None:
            result.note(spec, "cannot be read; an extraction with that extractor writes it again")
            continue
        result.extractors += 1
        for path in sorted(spec.parent.glob("*.h5")):
            result.segments += 1
            problem = _check_segment(path, meta["dim"], result)
            if problem and repair:
                store.quarantine(fingerprint, path, problem)
                result.repaired.append(f"{path} quarantined ({problem})")
        for path in sorted((spec.parent / "open").glob("*.h5")):
            fd = try_lock(path)
            if fd is None:
                result.note(path, "a live writer's unpublished segment", damage=False)
            else:
                os.close(fd)
                result.note(path, "a dead writer's unpublished segment: the next write (or compact) "
                            "publishes the rows of it that pass their checks", damage=False)  # fmt: skip
    _check_failures(store, result)
    _check_hash_cache(store, result, repair)
    for path, why in side_files.check_all(store.path / "exports"):
        result.note(path, f"{why}; the next run that needs it sets it aside and builds it again")
        if repair:
            result.repaired.append(f"{path} set aside as {side_files.set_aside(path, why)}")
    for path in sorted((store.path / "quarantine").glob("*.h5")):
        result.note(path, "in quarantine (remove it once you no longer need it)", damage=False)
    return result


def _check_marker(store: SegmentStore, result: Verification, repair: bool) -> None:
    marker = store.path / "store.json"
    try:
        meta = json.loads(marker.read_text())
        if meta == {"format": FORMAT, "version": VERSION}:
            return
        problem = f"holds {meta!r}, not a version-{VERSION} feature store's marker"
    except FileNotFoundError:
        problem = "missing"
    except (OSError, ValueError) as exc:
        problem = f"cannot be read ({exc})"
    result.note(marker, problem)
    if repair:
        store.create()
        result.repaired.append(f"{marker} rebuilt")


def _check_segment(path: Path, dim: int, result: Verification) -> str | None:
    """Every check on one published segment; the problem in words, or None."""
    try:
        segment = Segment(path)
        keys, rows = segment.index()
    except SegmentDamaged as exc:
        result.note(path, exc.what)
        return exc.what
    if segment.dim != dim:
        result.note(path, f"holds {segment.dim}-d vectors; its extractor's are {dim}-d")
        return "wrong dimension"
    if not segment.checked:
        result.note(path, "written before rows carried checksums: `workbench compact` rewrites it "
                    "with them", damage=False)  # fmt: skip
    bad, written = 0, []
    try:
        for raw, _, _, failed in segment.blocks():
            bad += failed
            written.append(raw)
    except (OSError, ValueError) as exc:
        result.note(path, f"its rows cannot be read ({exc})")
        return "rows unreadable"
    result.rows += segment.count
    if bad:
        result.note(path, f"{bad} of {rows_text(segment.count)} fail their checksum")
        return failing_checks(bad)
    if segment.checked:
        with open_h5(path, "r") as h5:
            stored = h5["rows"].fields("key")[:]
        if not np.array_equal(stored[rows], keys) or not np.array_equal(keys, stored[sort_order(stored)]):
            result.note(path, "its index does not match its rows (entries moved or altered)")
            return "index does not match its rows"
    return None


def _check_failures(store: SegmentStore, result: Verification) -> None:
    try:
        read_failures(store.path / "failures")
    except (OSError, KeyError, ValueError) as exc:
        result.note(store.path / "failures", f"a failure record cannot be read ({exc})")


def _check_hash_cache(store: SegmentStore, result: Verification, repair: bool) -> None:
    cache = HashCache(store.path / HASHES, writable=repair)  # verify alone changes nothing
    answer = cache.problem()
    if answer is not None:
        result.note(cache.path, f"the hash cache is damaged ({answer}); only a cache: set aside and rebuilt")
        if repair:
            cache.set_aside(answer)
            result.repaired.append(f"{cache.path} set aside")
