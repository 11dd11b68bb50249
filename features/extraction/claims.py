"""Claims: which content hashed while decoding a run still has to embed, each new key once."""

from __future__ import annotations

import enum

from ..hashing.keys import SortedKeys, to_raw


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
