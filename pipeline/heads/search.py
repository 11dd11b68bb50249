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
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from ..exceptions import ParamsError
from . import selection
from .base import Head

log = logging.getLogger(__name__)


@dataclass
class Candidate:
    params: dict
    valid_accuracy: float | None  # None: it could not be fitted on this data (see `error`)
    valid_log_loss: float | None
    fit_seconds: float
    error: str | None = None


@dataclass
class Search:
    """The fitted winner and how every candidate scored."""

    head: Head
    chosen: dict  # the searched params' winning values ({} without a search)
    candidates: list[Candidate]

    def to_json(self) -> dict:
        return {
            "rule": selection.RULE,
            "chosen": self.chosen,
            "candidates": [vars(c) for c in self.candidates],
        }


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
            clone(template).set_params(**{key: v}).validate_params(prefix).get_params()[key] for v in values
        )
    return checked


def grid(space: Mapping[str, tuple]) -> list[dict]:
    """Every combination, in the order listed (the first value of each param first)."""
    return [dict(zip(space, values, strict=True)) for values in itertools.product(*space.values())]


def search(template: Head, space: Mapping[str, tuple], X, y, eval_set) -> Search:
    """Fit every combination of `space` on (X, y), keep the best on `eval_set`."""
    combos = grid(space)
    if eval_set is None:
        if len(combos) > 1:
            raise ValueError(
                f"heads.{template.name}.search needs validation rows to choose among {len(combos)} "
                "candidates: set data.split.valid above 0, or remove the search"
            )
        return Search(clone(template).fit(X, y), {}, [])
    X_val, y_val = eval_set
    # A head that can score every candidate from work shared between them (k-NN) says so.
    shared = getattr(template, "validation_probas", None)
    trials = (shared(combos, X, y, X_val) if shared is not None and len(combos) > 1
              else _one_at_a_time(template, combos, X, y, eval_set))  # fmt: skip
    best_head, best_params, best_score, candidates = None, None, None, []
    for i, (params, outcome, seconds, head) in enumerate(trials, start=1):
        if isinstance(outcome, Exception):  # e.g. more neighbours than train rows
            if len(combos) == 1:
                raise outcome
            candidates.append(Candidate(params, None, None, seconds, str(outcome)))
            log.warning(
                "search %s %d/%d %s: cannot be fitted here (%s)",
                template.name,
                i,
                len(combos),
                params,
                outcome,
            )
            continue
        classes = head.classes_ if head is not None else np.unique(y)
        result = selection.score(outcome, np.searchsorted(classes, y_val))
        candidates.append(Candidate(params, result.accuracy, result.log_loss, seconds))
        if len(combos) > 1:
            log.info(
                "search %s %d/%d %s: valid accuracy %.3f, log loss %.3f, %.1fs",
                template.name, i, len(combos), params, result.accuracy, result.log_loss, seconds,
            )  # fmt: skip
        # Only the best head so far is kept (k-NN holds its train rows); the rule decides.
        if best_score is None or selection.best([best_score, result]) == 1:
            best_head, best_params, best_score = head, params, result
    if best_score is None:
        raise ValueError(
            f"no candidate of heads.{template.name}.search could be fitted: {candidates[0].error}"
        )
    if best_head is None:  # scored without fitting: fit the winner alone
        best_head = clone(template).set_params(**best_params).fit(X, y, eval_set=eval_set)
    chosen = {key: best_head.get_params()[key] for key in space}
    return Search(best_head, chosen, candidates)


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
