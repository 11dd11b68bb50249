"""What one extraction did: the content key of every file, and what was computed, reused and failed."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..store.failures import Failure


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
