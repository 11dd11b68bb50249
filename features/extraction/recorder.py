"""The one sink of every engine: embedded batches into one writer, with the run's report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from ..hashing.keys import hex_or_blank, to_raw
from ..store.base import Store
from ..store.failures import Failure
from ..store.writer import StoreWriter
from .claims import Verdict
from .plan import Plan
from .report import ExtractionReport


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
    progress counted. `finish` files the failures and the learned hashes with the store.

    Keys stay the plan's (n, 32) raw array from end to end (the keys the decoders learn are
    written into a copy of it); hex is made once, for the report and the records."""

    def __init__(self, plan: Plan, writer: StoreWriter, bar: tqdm, with_paths: bool = True):
        self.plan, self.writer, self.bar, self.with_paths = plan, writer, bar, with_paths
        self.raw, self.known = plan.raw.copy(), plan.known.copy()
        self.failures: list[Failure] = list(plan.unreadable)
        self.computed, self.reused = 0, plan.reused

    def record(self, batch: EmbeddedBatch) -> None:
        path = self.plan.path
        if batch.learned:
            learned = list(batch.learned)
            self.raw[learned], self.known[learned] = to_raw(list(batch.learned.values())), True
        for position, reason in batch.failures:
            self.failures.append(Failure(path(position), str(reason), self._hex(position)))
        self.reused += batch.verdicts.count(Verdict.STORED)
        done = batch.embedded
        if done:
            written = [path(p) for p in done] if self.with_paths else None
            self.writer.put(self.raw[done], batch.vectors, written)
            self.computed += len(done)
        self.bar.update(len(batch.positions) + len(batch.failures))
        self.bar.set_postfix(reused=self.reused, computed=self.computed, failed=len(self.failures))

    def finish(self, store: Store) -> ExtractionReport:
        store.add_failures([f for f in self.failures if f.key])
        plan = self.plan
        keys = hex_or_blank(self.raw, self.known)
        store.hash_cache().remember(
            [(plan.path(p), *state, keys[p]) for p, state in plan.stale_states() if keys[p]]
        )
        return ExtractionReport(plan.fingerprint, keys, self.computed, self.reused, self.failures)

    def _hex(self, position: int) -> str:
        return self.raw[position].tobytes().hex() if self.known[position] else ""


def record_all(
    plan: Plan,
    store: Store,
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
