"""Extraction: embed what the store lacks, batch by batch, and say what was reused."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from .extractor import Extractor
from .failures import Failure
from .hash_cache import FileState, lookup_files
from .keys import SortedKeys, to_raw
from .loader import ImageTransform, default_num_workers, make_loader
from .store import FeatureStore


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
    todo, report = plan.todo, plan.report

    if todo:
        workers = default_num_workers(extractor.device) if num_workers is None else num_workers
        loader = make_loader(
            [plan.paths[i] for i in todo],
            extractor.backbone.preprocessing,
            batch_size,
            workers,
            pin_memory=extractor.device.type == "cuda",
            transform=_Reindexed(transform, todo) if transform else None,
            hash=[row for row, position in enumerate(todo) if position in plan.stale],
        )
        bar = tqdm(total=len(todo), unit="img", desc="embedding", disable=not progress)
        claims = Claims(*plan.known_keys(store)) if plan.stale else None
        with bar, store.writer(extractor.fingerprint, extractor.spec) as writer:
            for batch in loader:
                plan.learn_keys({todo[row]: key for row, key in batch.keys.items()})
                decoded = [todo[row] for row in batch.positions]
                new = plan.new_content(claims, decoded)  # not the rows whose bytes are stored or repeated
                plan.record(
                    writer,
                    bar,
                    [decoded[row] for row in new],
                    extractor(batch.images[new]) if new else None,
                    [(todo[row], reason) for row, reason in batch.failures],
                    with_paths=transform is None,  # a transformed image's vector is not that file's
                    skipped=len(decoded) - len(new),
                )
        store.add_failures([f for f in report.failures if f.key])
        plan.remember_hashes(store)
    report.seconds = time.perf_counter() - start
    return report


@dataclass
class Plan:
    """What an engine must compute: `todo` holds the position of each distinct key the store
    lacks, and of each file in `stale`, whose key its decoder learns from the bytes it reads."""

    paths: list[str]
    keys: list[str]  # "" until known, and for files that cannot be read
    todo: list[int]
    report: ExtractionReport  # reuse and unreadable files counted; engines add the rest
    stale: dict[int, FileState] = field(default_factory=dict)  # position -> state when planned
    planned: list[str] = field(default_factory=list)  # the distinct keys known when planned

    def learn_keys(self, hashed: dict[int, str]) -> None:
        for position, key in hashed.items():
            self.keys[position] = key

    def known_keys(self, store: FeatureStore) -> tuple[SortedKeys, SortedKeys]:
        """What `Claims` starts from: the keys stored, and those this plan knew already."""
        planned = SortedKeys(to_raw(sorted(self.planned)))  # hex order is byte order
        return store.stored_keys(self.report.fingerprint), planned

    def new_content(self, claims: Claims | None, positions: list[int]) -> list[int]:
        """The indexes into `positions` worth embedding: a file hashed while decoding may turn
        out to hold bytes the store has (counted as reused) or another file of this run has."""
        hashed = [i for i, position in enumerate(positions) if position in self.stale]
        if not hashed:
            return list(range(len(positions)))
        verdicts = claims.claim([self.keys[positions[i]] for i in hashed], [positions[i] for i in hashed])
        self.report.reused += verdicts.count(STORED)
        dropped = {i for i, verdict in zip(hashed, verdicts, strict=True) if verdict}
        return [i for i in range(len(positions)) if i not in dropped]

    def record(
        self, writer, bar, done: list[int], vectors, failed: list[tuple[int, str]], with_paths=True, skipped=0
    ):
        """One batch, whichever engine made it: the vectors of positions `done` into the store,
        the (position, reason) of images that did not decode into the report, progress shown
        (`skipped`: images decoded and then found to be stored already)."""
        report = self.report
        for position, reason in failed:
            report.failures.append(Failure(self.paths[position], str(reason), self.keys[position]))
        if done:
            paths = [self.paths[p] for p in done] if with_paths else None
            writer.put([self.keys[p] for p in done], vectors, paths)
            report.computed += len(done)
        bar.update(len(done) + len(failed) + skipped)
        bar.set_postfix(reused=report.reused, computed=report.computed, failed=len(report.failures))

    def remember_hashes(self, store: FeatureStore) -> None:
        """Put the keys the decoders learned into the store's hash cache, for the next run."""
        entries = [(self.paths[p], *state, self.keys[p]) for p, state in self.stale.items() if self.keys[p]]
        store.hash_cache().remember(entries)


def plan_extraction(
    paths: Sequence[str | os.PathLike], store: FeatureStore, fingerprint: str, keys: Sequence[str] | None
) -> Plan:
    """Key every file whose key is known (given, or from the store's hash cache for an unchanged
    file), and keep the first position of each distinct key the store lacks: duplicates and
    stored images are never decoded. Files the cache does not know unchanged are not hashed
    here but left in `Plan.stale` for the decoders, which read them anyway."""
    paths = [str(p) for p in paths]
    failures: list[Failure] = []
    stale: dict[int, FileState] = {}
    if keys is None:
        found = lookup_files(paths, store.hash_cache())
        keys, stale = found.keys, found.stale
        failures = [Failure(paths[i], reason) for i, reason in found.unreadable.items()]
    keys = list(keys)
    report = ExtractionReport(fingerprint, keys, failures=failures)
    first_position: dict[str, int] = {}
    for position, key in enumerate(keys):
        if key:
            first_position.setdefault(key, position)
    unique = list(first_position)
    present = store.contains(fingerprint, unique)
    report.reused = int(present.sum())
    todo = [first_position[key] for key, have in zip(unique, present, strict=True) if not have]
    return Plan(paths, keys, sorted(todo + list(stale)), report, stale, unique)


STORED, REPEATED = "stored", "repeated"  # why a file hashed while decoding is not embedded


class Claims:
    """Which content a run still has to embed, for files hashed while decoding: not what is
    stored, nor what the plan knew already, and each new key for one file only. A file claims
    a key by its position, so a batch decoded again (Ray retrying it after losing an actor)
    gets its own claims back instead of finding them taken. On Ray it is an actor."""

    def __init__(self, stored: SortedKeys, planned: SortedKeys):
        self.stored, self.planned = stored, planned
        self.owner: dict[str, int] = {}  # key -> position of the file that claimed it

    def claim(self, keys: list[str], positions: list[int]) -> list[str]:
        """Per file: "" (embed it), "stored" or "repeated" (another file of the run has its bytes)."""
        raw = to_raw(keys)
        planned, stored = self.planned.find(raw) >= 0, self.stored.find(raw) >= 0
        out = []
        for key, position, known, have in zip(keys, positions, planned, stored, strict=True):
            if known or self.owner.setdefault(key, position) != position:
                out.append(REPEATED)
            else:
                out.append(STORED if have else "")
        return out


class _Reindexed:
    """Gives a transform the position in the caller's request, not in the todo list."""

    def __init__(self, transform: ImageTransform, todo: list[int]):
        self.transform, self.todo = transform, todo

    def __call__(self, image, position: int):
        return self.transform(image, self.todo[position])
