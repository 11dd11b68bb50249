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
from .failures import Failure
from .hash_cache import FileState, hash_files, lookup_files, stale_states
from .keys import KEY_BYTES, SortedKeys, hex_or_blank, sort_order, to_raw
from .loader import ImageTransform, Reindexed, default_num_workers, make_loader
from .networks.extractor import Extractor
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

    @property
    def copies(self) -> int:
        """Files whose bytes another file of this run has too: one vector serves them all."""
        keyed = [key for key in self.keys if key]
        return len(keyed) - len(set(keyed))

    def summary(self) -> str:
        """Every file given is counted once: computed, reused, a copy of another, or failed."""
        rate = self.computed / self.seconds if self.seconds > 0 else 0.0
        copies = f"{self.copies} copies of another file given, " if self.copies else ""
        return (
            f"{self.computed} computed, {self.reused} reused, {copies}{len(self.failures)} failed "
            f"in {self.seconds:.1f}s ({rate:.1f} img/s computed)"
        )


@dataclass(frozen=True)
class Plan:
    """What an engine must decode, decided once before any image is read.

    `todo` holds the position of each distinct known key the store lacks, and of each file
    in `stale`, whose key its decoder learns from the bytes it reads (the hash cache did not
    know it unchanged). Nothing here changes while the engines run. Held in arrays beside the
    caller's own listing (not copied): about 120 bytes per image at most.
    """

    fingerprint: str
    paths: Sequence[str | os.PathLike]  # the caller's listing
    raw: np.ndarray  # (n, 32) uint8 keys; zero rows where `known` is False
    known: np.ndarray  # (n,) bool: the key is known (given, or vouched for by the hash cache)
    todo: np.ndarray  # sorted positions to decode
    stale: np.ndarray  # sorted positions whose key the decoders learn from the bytes
    states: np.ndarray  # (len(stale), 4) int64: each one's FileState when planned
    planned: SortedKeys  # the distinct keys known when planned
    reused: int  # of those, how many the store holds
    unreadable: list[Failure]  # files that could not even be stat-ed

    def path(self, position: int) -> str:
        return os.fspath(self.paths[position])

    def keys_at(self, positions: Sequence[int]) -> list[str]:
        """Hex keys known when planned, "" where not known."""
        rows = np.asarray(positions, np.int64)
        return hex_or_blank(self.raw[rows], self.known[rows])

    def is_stale(self, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        """Which of `positions` are in `stale` (bool mask)."""
        if not len(self.stale):
            return np.zeros(len(positions), bool)
        at = np.searchsorted(self.stale, positions)
        return (at < len(self.stale)) & (self.stale[np.minimum(at, len(self.stale) - 1)] == positions)

    def stale_states(self) -> Iterator[tuple[int, FileState]]:
        return stale_states(self.stale, self.states)

    def empty_report(self) -> ExtractionReport:
        """The report before any batch: what planning counted (reuse, unreadable files)."""
        keys = hex_or_blank(self.raw, self.known)
        return ExtractionReport(self.fingerprint, keys, reused=self.reused, failures=list(self.unreadable))

    def known_keys(self, store: FeatureStore) -> tuple[SortedKeys, SortedKeys]:
        """What `Claims` starts from: the keys stored, and those this plan knew already."""
        return store.stored_keys(self.fingerprint), self.planned


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
    unreadable: list[Failure] = []
    stale, states = np.empty(0, np.int64), np.empty((0, 4), np.int64)
    if keys is None:
        found = lookup_files(paths, store.hash_cache())
        raw, known = found.raw, found.known
        stale, states = found.stale, found.states
        unreadable = [Failure(os.fspath(paths[i]), reason) for i, reason in found.unreadable.items()]
        if len(stale) and not store.writable:
            hashed, failed = hash_files([os.fspath(paths[i]) for i in stale])
            ok = [j for j, key in enumerate(hashed) if key]
            raw[stale[ok]], known[stale[ok]] = to_raw([hashed[j] for j in ok]), True
            unreadable += [Failure(os.fspath(paths[stale[j]]), reason) for j, reason in failed.items()]
            stale, states = stale[:0], states[:0]
    else:
        if len(keys) != len(paths):
            raise ValueError(f"{len(keys)} keys given for {len(paths)} paths")
        raw, known = raw_keys(keys)
    first, planned = first_of_each(raw, known)
    present = store.contains(fingerprint, planned.raw)
    todo = np.sort(np.concatenate([first[~present], stale]))
    if len(todo) and not store.writable:
        raise StoreError(f"{read_only(store.path)}. {len(todo)} of these images have no vector in it")
    return Plan(fingerprint, paths, raw, known, todo, stale, states, planned, int(present.sum()), unreadable)


def raw_keys(keys: Sequence[str], chunk: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
    """(n, 32) raw keys and a mask of those given ("" is not), decoded a chunk at a time."""
    raw, known = np.zeros((len(keys), KEY_BYTES), np.uint8), np.zeros(len(keys), bool)
    for start in range(0, len(keys), chunk):
        rows = [start + i for i, key in enumerate(keys[start : start + chunk]) if key]
        raw[rows], known[rows] = to_raw([keys[i] for i in rows]), True
    return raw, known


def first_of_each(raw: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, SortedKeys]:
    """The position of the first file of each distinct known key, and those keys, both in key order."""
    positions = np.flatnonzero(known)
    order = sort_order(raw[positions])  # stable: equal keys keep their files' order
    keys = raw[positions[order]]
    words = keys.view(np.uint64)  # (n, 4): compared a word at a time
    starts = np.ones(len(keys), bool)
    starts[1:] = (words[1:] != words[:-1]).any(axis=1)
    return positions[order[starts]], SortedKeys(keys[starts])


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
        report, path = self.report, self.plan.path
        for position, key in batch.learned.items():
            self.keys[position] = key
        for position, reason in batch.failures:
            report.failures.append(Failure(path(position), str(reason), self.keys[position]))
        report.reused += batch.verdicts.count(Verdict.STORED)
        done = batch.embedded
        if done:
            written = [path(p) for p in done] if self.with_paths else None
            self.writer.put([self.keys[p] for p in done], batch.vectors, written)
            report.computed += len(done)
        self.bar.update(len(batch.positions) + len(batch.failures))
        self.bar.set_postfix(reused=report.reused, computed=report.computed, failed=len(report.failures))

    def finish(self, store: FeatureStore) -> ExtractionReport:
        store.add_failures([f for f in self.report.failures if f.key])
        plan = self.plan
        learned = [(plan.path(p), *state, self.keys[p]) for p, state in plan.stale_states() if self.keys[p]]
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
    if not len(plan.todo):
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
    todo = plan.todo.tolist()
    loader = make_loader(
        [plan.path(i) for i in todo],
        extractor.backbone.preprocessing,
        batch_size,
        num_workers,
        pin_memory=extractor.device.type == "cuda",
        transform=Reindexed(transform, todo) if transform else None,
        hash=plan.is_stale(plan.todo),
    )
    claims = Claims(*plan.known_keys(store)) if len(plan.stale) else None
    for batch in loader:
        learned = {todo[row]: key for row, key in batch.keys.items()}
        positions = [todo[row] for row in batch.positions]
        verdicts = [Verdict.EMBED] * len(positions)
        hashed = np.flatnonzero(plan.is_stale(positions)).tolist() if positions else []
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
    planned = plan.keys_at([positions[i] for i in embed])
    keys = [learned.get(positions[i]) or key for i, key in zip(embed, planned, strict=True)]
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
