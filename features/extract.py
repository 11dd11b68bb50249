"""Extraction: a plan of what the store lacks, engines that yield embedded batches, one recorder.

Like Ray's batch-inference example: `plan_extraction` decides once, from the keys known and
what the store holds, which files must be decoded; an engine (`local_batches` here, or the
Ray engine) turns those into `EmbeddedBatch`es; one `Recorder` writes their vectors, learns
the keys hashed on the way, and counts what was computed, reused and failed, whichever
engine made them.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .exceptions import StoreError
from .extractor import Extractor
from .failures import Failure
from .hash_cache import FileState, hash_files, lookup_files
from .keys import SortedKeys, to_raw
from .loader import ImageTransform, Reindexed, default_num_workers, make_loader
from .store import FeatureStore, MissingVectors, StoreWriter, read_only


@dataclass
class ExtractionReport:
    """What one extraction did. `keys[i]` is the content key of `paths[i]`."""

    fingerprint: str
    keys: list[str]
    computed: int = 0
    reused: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok_keys(self) -> list[str]:
        failed = {f.key for f in self.failures}
        return [key for key in self.keys if key and key not in failed]

    def summary(self) -> str:
        rate = self.computed / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{self.computed} computed, {self.reused} reused, {len(self.failures)} failed "
            f"in {self.seconds:.1f}s ({rate:.1f} img/s computed)"
        )


@dataclass(frozen=True)
class Plan:
    """What an engine must decode, decided once before any image is read.

    `todo` holds the position of each distinct known key the store lacks, and of each file
    in `stale`, whose key its decoder learns from the bytes it reads (the hash cache did not
    know it unchanged). Nothing here changes while the engines run.
    """

    fingerprint: str
    paths: list[str]
    keys: list[str]  # "" where not known yet, or the file cannot be read
    todo: list[int]
    stale: dict[int, FileState]  # position -> the file's state when planned
    planned: list[str]  # the distinct keys known when planned
    reused: int  # of those, how many the store holds
    unreadable: list[Failure]  # files that could not even be stat-ed

    def empty_report(self) -> ExtractionReport:
        """The report before any batch: what planning counted (reuse, unreadable files)."""
        return ExtractionReport(
            self.fingerprint, list(self.keys), reused=self.reused, failures=list(self.unreadable)
        )

    def known_keys(self, store: FeatureStore) -> tuple[SortedKeys, SortedKeys]:
        """What `Claims` starts from: the keys stored, and those this plan knew already."""
        planned = SortedKeys(to_raw(sorted(self.planned)))  # hex order is byte order
        return store.stored_keys(self.fingerprint), planned


def plan_extraction(
    paths: Sequence[str | os.PathLike], store: FeatureStore, fingerprint: str, keys: Sequence[str] | None
) -> Plan:
    """Key every file whose key is known (given, or from the store's hash cache for an unchanged
    file), and keep the first position of each distinct key the store lacks: duplicates and
    stored images are never decoded. Files the cache does not know unchanged are not hashed
    here but left in `stale` for the decoders, which read them anyway.

    A store this process cannot write is planned without decoding: the files the cache cannot
    vouch for are hashed first, and if any image has no vector the plan stops there, before
    a single image is decoded (StoreError naming the store)."""
    paths = [str(p) for p in paths]
    unreadable: list[Failure] = []
    stale: dict[int, FileState] = {}
    writable = store.writable
    if keys is None:
        found = lookup_files(paths, store.hash_cache())
        keys, stale = found.keys, found.stale
        unreadable = [Failure(paths[i], reason) for i, reason in found.unreadable.items()]
        if stale and not writable:
            hashed, failed = hash_files([paths[i] for i in stale])
            for position, key in zip(stale, hashed, strict=True):
                keys[position] = key
            unreadable += [Failure(paths[list(stale)[i]], reason) for i, reason in failed.items()]
            stale = {}
    first_position: dict[str, int] = {}
    for position, key in enumerate(keys):
        if key:
            first_position.setdefault(key, position)
    unique = list(first_position)
    present = store.contains(fingerprint, unique)
    todo = [first_position[key] for key, have in zip(unique, present, strict=True) if not have]
    if todo and not writable:
        raise StoreError(f"{read_only(store.path)}. {len(todo)} of these images have no vector in it")
    return Plan(
        fingerprint,
        paths,
        list(keys),
        sorted(todo + list(stale)),
        stale,
        unique,
        int(present.sum()),
        unreadable,
    )


class Verdict(str, enum.Enum):
    """What to do with a file hashed while decoding; a str, so it travels in Ray's arrays."""

    EMBED = "embed"
    STORED = "stored"  # the store has these bytes already (counted as reused)
    REPEATED = "repeated"  # another file of this run has them


class Claims:
    """Which content a run still has to embed, for files hashed while decoding: not what is
    stored, nor what the plan knew already, and each new key for one file only. A file claims
    a key by its position, so a batch decoded again (Ray retrying it after losing an actor)
    gets its own claims back instead of finding them taken. On Ray it is an actor."""

    def __init__(self, stored: SortedKeys, planned: SortedKeys):
        self.stored, self.planned = stored, planned
        self.owner: dict[str, int] = {}  # key -> position of the file that claimed it

    def claim(self, keys: list[str], positions: list[int]) -> list[Verdict]:
        raw = to_raw(keys)
        planned, stored = self.planned.find(raw) >= 0, self.stored.find(raw) >= 0
        out = []
        for key, position, known, have in zip(keys, positions, planned, stored, strict=True):
            if known or self.owner.setdefault(key, position) != position:
                out.append(Verdict.REPEATED)
            else:
                out.append(Verdict.STORED if have else Verdict.EMBED)
        return out


@dataclass
class EmbeddedBatch:
    """One batch from an engine, in the plan's positions."""

    positions: list[int]  # files decoded
    verdicts: list[Verdict]  # for each of them
    vectors: np.ndarray  # one row per EMBED verdict, in order
    failures: list[tuple[int, str]] = field(default_factory=list)  # (position, reason): not decoded
    learned: dict[int, str] = field(default_factory=dict)  # position -> key hashed from the bytes read

    @property
    def embedded(self) -> list[int]:
        return [p for p, v in zip(self.positions, self.verdicts, strict=True) if v is Verdict.EMBED]


class Recorder:
    """The one sink of every engine: vectors into the writer, keys learned, reuse, failures and
    progress counted. `finish` files the failures and the learned hashes with the store."""

    def __init__(self, plan: Plan, writer: StoreWriter, bar: tqdm, with_paths: bool = True):
        self.plan, self.writer, self.bar, self.with_paths = plan, writer, bar, with_paths
        self.report = plan.empty_report()
        self.keys = self.report.keys  # filled in as the decoders hash the stale files

    def record(self, batch: EmbeddedBatch) -> None:
        report, paths = self.report, self.plan.paths
        for position, key in batch.learned.items():
            self.keys[position] = key
        for position, reason in batch.failures:
            report.failures.append(Failure(paths[position], str(reason), self.keys[position]))
        report.reused += batch.verdicts.count(Verdict.STORED)
        done = batch.embedded
        if done:
            written = [paths[p] for p in done] if self.with_paths else None
            self.writer.put([self.keys[p] for p in done], batch.vectors, written)
            report.computed += len(done)
        self.bar.update(len(batch.positions) + len(batch.failures))
        self.bar.set_postfix(reused=report.reused, computed=report.computed, failed=len(report.failures))

    def finish(self, store: FeatureStore) -> ExtractionReport:
        store.add_failures([f for f in self.report.failures if f.key])
        stale, paths = self.plan.stale, self.plan.paths
        learned = [(paths[p], *state, self.keys[p]) for p, state in stale.items() if self.keys[p]]
        store.hash_cache().remember(learned)
        return self.report


def record_all(
    plan: Plan,
    store: FeatureStore,
    spec: dict,
    batches: Iterable[EmbeddedBatch],
    desc: str,
    progress: bool,
    with_paths: bool = True,
) -> ExtractionReport:
    """An engine's batches into one writer through one Recorder; the report. `spec` is the
    extractor's, filed with its first vectors."""
    bar = tqdm(total=len(plan.todo), unit="img", desc=desc, disable=not progress)
    with bar, store.writer(plan.fingerprint, spec) as writer:
        recorder = Recorder(plan, writer, bar, with_paths)
        for batch in batches:
            recorder.record(batch)
    return recorder.finish(store)


def extract(
    paths: Sequence[str | os.PathLike],
    store: FeatureStore,
    extractor: Extractor,
    keys: Sequence[str] | None = None,
    batch_size: int = 32,
    num_workers: int | None = None,
    transform: ImageTransform | None = None,
    progress: bool = True,
) -> ExtractionReport:
    """Make sure the store holds a vector for every decodable image in `paths`.

    `keys` defaults to the SHA-256 of each file; pass derived keys with `transform`
    (a perturbation) so the transformed vectors are stored under keys of their own.
    Each distinct key is embedded at most once, and only when the store lacks it. Files the
    store's hash cache does not know unchanged are hashed by the decoders from the bytes
    they read, so hashing runs in parallel with decoding and each file is read once.
    """
    start = time.perf_counter()
    plan = plan_extraction(paths, store, extractor.fingerprint, keys)
    if not plan.todo:
        report = plan.empty_report()
    else:
        workers = default_num_workers(extractor.device) if num_workers is None else num_workers
        report = record_all(
            plan,
            store,
            extractor.spec,
            local_batches(plan, store, extractor, batch_size, workers, transform),
            "embedding",
            progress,
            with_paths=transform is None,  # a transformed image's vector is not that file's
        )
    report.seconds = time.perf_counter() - start
    return report


def local_batches(
    plan: Plan,
    store: FeatureStore,
    extractor: Extractor,
    batch_size: int,
    num_workers: int,
    transform: ImageTransform | None = None,
) -> Iterator[EmbeddedBatch]:
    """This machine's engine: DataLoader workers decode (and hash the stale files), the
    network runs on what is new."""
    todo = plan.todo
    loader = make_loader(
        [plan.paths[i] for i in todo],
        extractor.backbone.preprocessing,
        batch_size,
        num_workers,
        pin_memory=extractor.device.type == "cuda",
        transform=Reindexed(transform, todo) if transform else None,
        hash=[row for row, position in enumerate(todo) if position in plan.stale],
    )
    claims = Claims(*plan.known_keys(store)) if plan.stale else None
    for batch in loader:
        learned = {todo[row]: key for row, key in batch.keys.items()}
        positions = [todo[row] for row in batch.positions]
        verdicts = [Verdict.EMBED] * len(positions)
        hashed = [i for i, position in enumerate(positions) if position in plan.stale]
        if hashed:  # files the plan did not know: their bytes may be stored, or repeated in this run
            asked = claims.claim([learned[positions[i]] for i in hashed], [positions[i] for i in hashed])
            for i, verdict in zip(hashed, asked, strict=True):
                verdicts[i] = verdict
        _published_since(store, plan, positions, learned, verdicts)
        new = [row for row, verdict in enumerate(verdicts) if verdict is Verdict.EMBED]
        yield EmbeddedBatch(
            positions,
            verdicts,
            extractor(batch.images[new]) if new else np.empty((0, extractor.dim), np.float32),
            [(todo[row], reason) for row, reason in batch.failures],
            learned,
        )


def _published_since(
    store: FeatureStore, plan: Plan, positions: list[int], learned: dict[int, str], verdicts: list[Verdict]
) -> None:
    """STORED for what another writer published since the plan was made: writers that overlap
    (two runs over one folder) then share the work instead of computing it twice."""
    embed = [i for i, verdict in enumerate(verdicts) if verdict is Verdict.EMBED]
    if not embed:
        return
    keys = [learned.get(positions[i]) or plan.keys[positions[i]] for i in embed]
    for i, have in zip(embed, store.contains(plan.fingerprint, keys), strict=True):
        if have:
            verdicts[i] = Verdict.STORED


def extract_vectors(
    paths: Sequence[str | os.PathLike],
    store: FeatureStore,
    extractor: Extractor,
    keys: Sequence[str] | None = None,
    **options,
) -> tuple[ExtractionReport, np.ndarray]:
    """`extract`, then the vectors of every image that decoded (`report.ok_keys`, in order).
    A vector whose row fails its checks on the way out (its segment is quarantined) is
    computed again, once."""
    report = extract(paths, store, extractor, keys, **options)
    try:
        return report, store.get(extractor.fingerprint, report.ok_keys)
    except MissingVectors:  # lost to a damaged segment just now: missing, so computed again
        report = extract(paths, store, extractor, keys, **options)
        return report, store.get(extractor.fingerprint, report.ok_keys)
