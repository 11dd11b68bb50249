"""Choosing a head's params on the validation split, by the one rule every head follows.

A head's params block may hold `search: {param: [values, ...]}`. Every combination is
fitted on the train split and scored on the valid split (pipeline/heads/selection.py);
the winner is kept as it was fitted, on train alone: it is not refitted on train + valid,
so no head's weights ever see the valid rows and every head's test score comes from a
model chosen without the test rows. A param not in `search` keeps its value in the block.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone

from ..exceptions import ParamsError
from . import selection
from .base import Head
from .halving import HalvingParams, nested_order

log = logging.getLogger(__name__)


@dataclass
class Candidate:
    params: dict
    valid_accuracy: float | None  # None: it could not be fitted on this data (see `error`)
    valid_log_loss: float | None
    fit_seconds: float  # every rung's fit and scoring
    error: str | None = None
    train_rows: int | None = None  # rows of its last fit (fewer than train's when halving dropped it)
    rungs: list[dict] = field(default_factory=list)  # with halving: its score at each rung it reached


@dataclass
class Search:
    """The fitted winner and how every candidate scored."""

    head: Head
    chosen: dict  # the searched params' winning values ({} without a search)
    candidates: list[Candidate]
    halving: dict | None = None  # the rungs' train rows, when the search halved
    valid_proba: np.ndarray | None = None  # the winner's probabilities on the valid rows, as scored

    def to_json(self) -> dict:
        out = {
            "rule": selection.RULE,
            "chosen": self.chosen,
            "candidates": [vars(c) for c in self.candidates],
        }
        return out | ({"halving": self.halving} if self.halving else {})


def check_space(template: Head, space: Mapping, prefix: str, block: Mapping = ()) -> dict[str, tuple]:
    """`space` validated against the head: known params, non-empty lists, every value allowed,
    and none also set in `block` (the head's params block), where it would silently not count."""
    if not isinstance(space, Mapping):
        raise ParamsError(f"{prefix}: expected a mapping of param -> list of values, got {space!r}")
    checked = {}
    for key, values in space.items():
        if key in block:
            head = prefix.rsplit(".", 1)[0]
            raise ParamsError(
                f"{head}.{key} is set and also searched ({prefix}.{key}); set one: to fix it, "
                f"-S '{prefix}.{key}=[{block[key]}]'; to search, remove {head}.{key}"
            )
        if key not in template.get_params():
            raise ParamsError(
                f"{prefix}.{key}: not a param of {template.name}; it takes {sorted(template.get_params())}"
            )
        if not isinstance(values, list | tuple) or not values:
            raise ParamsError(f"{prefix}.{key}: expected a non-empty list of values to try, got {values!r}")
        # Each value is checked by the head's own rules, so a bad one stops the stage at load.
        checked[key] = tuple(
            clone(template).set_params(**{key: v}).checked_params(prefix)[key] for v in values
        )
    return checked


def grid(space: Mapping[str, tuple]) -> list[dict]:
    """Every combination, in the order listed (the first value of each param first)."""
    return [dict(zip(space, values, strict=True)) for values in itertools.product(*space.values())]


def search(
    template: Head, space: Mapping[str, tuple], X, y, eval_set, halving: HalvingParams | None = None
) -> Search:
    """Fit every combination of `space` on (X, y), keep the best on `eval_set`; with `halving`,
    by successive halving over the train rows (pipeline/heads/halving.py)."""
    combos = grid(space)
    if eval_set is None:
        if len(combos) > 1:
            raise ValueError(
                f"heads.{template.name}.search needs validation rows to choose among {len(combos)} "
                "candidates: set data.split.valid above 0, or remove the search"
            )
        return Search(clone(template).fit(X, y), {}, [])
    # A head that can score every candidate from work shared between them (k-NN) says so:
    # one pass on every row then, nothing to halve.
    shared = template.scores_candidates_together and len(combos) > 1
    rows = template.rows_fitted(len(y))
    rungs = halving.rungs(len(combos), rows) if halving is not None and not shared else [len(y)]
    if len(rungs) > 1:
        rungs[-1] = len(y)  # the last rung hands the head every row (a head that caps its rows caps them)
    order = nested_order(np.asarray(y), halving.seed) if len(rungs) > 1 else None
    candidates: list[Candidate | None] = [None] * len(combos)
    alive = list(range(len(combos)))
    for rung, rows in enumerate(rungs):
        last = rung == len(rungs) - 1
        take = slice(None) if last else np.sort(order[:rows])
        X_rung, y_rung = X[take], y[take]
        if shared:
            trials = template.validation_probas(combos, X, y, eval_set[0])
        else:
            trials = _one_at_a_time(template, [combos[i] for i in alive], X_rung, y_rung, eval_set)
        scores, best_head, best_i, best_proba = {}, None, None, None
        for i, (params, outcome, seconds, head) in zip(alive, trials, strict=True):
            earlier = candidates[i]
            candidate = Candidate(params, None, None, seconds, train_rows=rows)
            if earlier is not None:
                candidate.fit_seconds += earlier.fit_seconds
                candidate.rungs = earlier.rungs
            candidates[i] = candidate
            label = f"search {template.name} {i + 1}/{len(combos)}" + (
                f" (rung {rung + 1}/{len(rungs)}, {rows} rows)" if len(rungs) > 1 else ""
            )
            if isinstance(outcome, Exception):  # e.g. more neighbours than train rows
                if len(combos) == 1:
                    raise ParamsError(
                        f"heads.{template.name}: {params or 'its params'} cannot be fitted on these "
                        f"{len(y_rung)} train rows: {outcome}"
                    ) from outcome
                candidate.error = str(outcome)
                log.warning("%s %s: cannot be fitted here (%s)", label, params, outcome)
                continue
            classes = head.classes_ if head is not None else np.unique(y)
            result = selection.score(outcome, np.searchsorted(classes, eval_set[1]))
            candidate.valid_accuracy, candidate.valid_log_loss = result.accuracy, result.log_loss
            if len(rungs) > 1:
                candidate.rungs = [*candidate.rungs, {"train_rows": rows, "valid_accuracy": result.accuracy,
                                                      "valid_log_loss": result.log_loss}]  # fmt: skip
            if len(combos) > 1:
                log.info(
                    "%s %s: valid accuracy %.3f, log loss %.3f, %.1fs",
                    label, params, result.accuracy, result.log_loss, seconds,
                )  # fmt: skip
            # Only the best head so far is kept (k-NN holds its train rows); the rule decides.
            if last and (best_i is None or selection.best([scores[best_i], result]) == 1):
                best_head, best_i, best_proba = head, i, outcome
            scores[i] = result
        if not scores:
            raise ParamsError(
                f"no candidate of heads.{template.name}.search could be fitted on these {len(y_rung)} train "
                f"rows: {candidates[alive[0]].error}"
            )
        ranked = [list(scores)[j] for j in selection.ranked(list(scores.values()))]
        alive = ranked[: halving.survivors(len(alive))] if not last else ranked[:1]
    (winner,) = alive
    if best_head is None:  # scored without fitting: fit the winner alone
        best_head = clone(template).set_params(**combos[winner]).fit(X, y, eval_set=eval_set)
    chosen = {key: best_head.get_params()[key] for key in space}
    found = Search(best_head, chosen, candidates, valid_proba=best_proba)
    if len(rungs) > 1:
        found.halving = {"train_rows": rungs, "factor": halving.factor, "seed": halving.seed}
    return found


def projected_seconds(
    template: Head, space: Mapping[str, tuple], rows: int, classes: int, features: int,
    halving: HalvingParams | None,
) -> float | None:  # fmt: skip
    """A forecast of the search's seconds, for heads that can forecast a fit (glmnet); else None."""
    if template.projected_seconds(rows, classes, features) is None:
        return None
    alive = len(grid(space))
    rows = template.rows_fitted(rows)
    rungs = halving.rungs(alive, rows) if halving is not None else [rows]
    total = 0.0
    for rung_rows in rungs:
        total += alive * template.projected_seconds(rung_rows, classes, features)
        alive = halving.survivors(alive) if halving is not None else alive
    return total


def _one_at_a_time(template: Head, combos: list[dict], X, y, eval_set) -> Iterator[tuple]:
    """(params, valid probabilities or the error that stopped it, seconds, fitted head) per candidate."""
    for params in combos:
        head = clone(template).set_params(**params)
        start = time.perf_counter()
        try:
            head.fit(X, y, eval_set=eval_set)
            proba = head.predict_proba(eval_set[0])
        except ValueError as exc:
            yield params, exc, time.perf_counter() - start, None
            continue
        yield params, proba, time.perf_counter() - start, head
