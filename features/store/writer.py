"""One writer of a segment store: appends go to its own open segment, published when full."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..exceptions import StoreError
from ..hashing.keys import to_raw
from .segment import OpenSegment, new_name, write_failed

if TYPE_CHECKING:
    from .segments import SegmentStore

# Small segments (a put of a few rows each) are merged once this many have piled up.
COMPACT_AFTER = 16


class StoreWriter:
    """One writer: appends go to its own open segment, published when its vectors fill
    `max_bytes` or it is `max_seconds` old, and when the writer is closed."""

    def __init__(
        self,
        store: SegmentStore,
        fingerprint: str,
        spec: dict,
        max_bytes: int | None,
        max_seconds: float | None,
        recover: bool = True,
    ):
        """`max_bytes`/`max_seconds` None: one segment, published on close (compaction).
        `recover`: publish what dead writers left before the first append."""
        self.store, self.fingerprint, self.spec = store, fingerprint, spec
        self.max_bytes, self.max_seconds = max_bytes, max_seconds
        self.added = 0
        self._open: OpenSegment | None = None
        self._mine: set[bytes] = set()  # keys in the open segment
        self._published = 0
        self._ready, self._recover = False, recover

    def put(self, keys: Sequence[str], vectors: np.ndarray, paths: Sequence[str] | None = None) -> int:
        """Append vectors of keys (hex, or (n, 32) raw bytes) not stored yet; returns how many
        rows were added."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(keys):
            raise StoreError(f"put: {len(keys)} keys but vectors of shape {vectors.shape}")
        if not np.isfinite(vectors).all():
            raise StoreError("put: refusing to store non-finite vectors (NaN or inf)")
        raw = keys if isinstance(keys, np.ndarray) else to_raw(keys)
        return self.append(raw, vectors, list(paths) if paths else [""] * len(keys))

    def append(self, raw: np.ndarray, vectors: np.ndarray, paths: list[str], skip_stored: bool = True) -> int:
        """`put` for checked rows with raw keys; `skip_stored=False` skips only this writer's own
        keys (compaction, which reads keys the store holds by definition)."""
        if not self._ready:
            self._ready = True
            try:
                self.store.prepare(self.fingerprint, self.spec, vectors.shape[1])
            except OSError as exc:
                raise StoreError(write_failed(self.store.path / self.fingerprint, exc)) from exc
            if self._recover:
                self.store.recover(self.fingerprint)
        stored = self.store.contains(self.fingerprint, raw) if skip_stored else np.zeros(len(raw), bool)
        fresh, seen = [], set()
        for i, key in enumerate(map(bytes, raw)):
            if not stored[i] and key not in self._mine and key not in seen:
                fresh.append(i)
                seen.add(key)
        if fresh:
            if self._open is None:
                name = self.store.path / self.fingerprint / "open" / new_name()
                try:
                    self._open = OpenSegment(name, self.fingerprint, vectors.shape[1])
                except OSError as exc:
                    raise StoreError(write_failed(name, exc)) from exc
            self._open.append(raw[fresh], vectors[fresh], [paths[i] for i in fresh])
            self._mine |= seen
            self.added += len(fresh)
        if self._open is not None and self._full():
            self.publish()
        return len(fresh)

    def publish(self) -> None:
        """Publish the open segment now (the next put starts another)."""
        if self._open is not None:
            segment, self._open, self._mine = self._open, None, set()
            segment.publish(self.store.path / self.fingerprint)
            self._published += 1

    def close(self) -> None:
        failed = self._open is not None and self._open.failed
        self.publish()
        if self._published and not failed and self.max_bytes is not None:
            published = self.store.published(self.fingerprint)
            small = [s for s in published if s.nbytes < self.store.max_bytes // 4]
            if len(small) >= COMPACT_AFTER:
                self.store.compact(self.fingerprint, small_only=True)

    def _full(self) -> bool:
        assert self._open is not None
        too_big = self.max_bytes is not None and self._open.nbytes >= self.max_bytes
        too_old = self.max_seconds is not None and time.monotonic() - self._open.opened >= self.max_seconds
        return too_big or too_old

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()  # committed rows are good even when the caller failed
