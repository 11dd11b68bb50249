"""Successive halving over train rows: a search that does not cost candidates x a full fit at scale.

Every candidate is fitted on a stratified share of the train rows and scored on the whole
valid split by the one rule; the best 1/factor go on to factor times the rows, until the
last rung fits the survivors on every train row (scikit-learn's HalvingGridSearchCV with
`resource="n_samples"`, here on the fixed valid split). The shares are nested, so a
survivor's rows hold the rows it was first scored on. Below `factor x min_rows` train rows
there is one rung, and the search is the whole grid on every row, as without halving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..params import param


@dataclass(frozen=True)
class HalvingParams:
    """`heads.halving`: the rows each rung of a search fits its candidates on."""

    min_rows: int = param(5000, min=1)  # train rows of the first rung; fewer rows: no halving
    factor: int = param(3, min=2)  # each rung keeps the best 1/factor on factor x the rows
    seed: int = 0  # the draw of each rung's rows

    def rungs(self, candidates: int, rows: int) -> list[int]:
        """Train rows per rung, the last being all `rows`; [rows] when halving cannot start."""
        needed = 1  # rungs to narrow `candidates` down to one, that one fitted on every row
        while candidates > 1:
            candidates, needed = self.survivors(candidates), needed + 1
        while needed > 1 and rows // self.factor ** (needed - 1) < self.min_rows:
            needed -= 1
        return [rows // self.factor ** (needed - 1 - r) for r in range(needed)]

    def survivors(self, alive: int) -> int:
        return math.ceil(alive / self.factor)


def nested_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """Row indices in the order rungs take them: any prefix holds every class (its first row
    of each comes first) and then each class in proportion to its size, seeded."""
    rng = np.random.default_rng(seed)
    position = np.empty(len(labels))
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        # The first row of each class leads; the rest spread evenly through the order.
        position[rows] = np.arange(len(rows)) / len(rows)
        position[rows[0]] = -1.0
    tiebreak = rng.random(len(labels))
    return np.lexsort((tiebreak, position))
