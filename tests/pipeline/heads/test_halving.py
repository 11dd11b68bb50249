"""Successive halving over train rows: the rungs, the nested stratified rows, the search it drives."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs

from pipeline.heads import selection
from pipeline.heads.halving import HalvingParams, nested_order
from pipeline.heads.registry import make_head
from pipeline.heads.search import grid, search


@pytest.mark.parametrize(
    "candidates, rows, expected",
    [
        (6, 60_000, [6_666, 20_000, 60_000]),  # 6 -> 2 -> 1
        (6, 20_000, [6_666, 20_000]),  # a third rung would start below min_rows
        (3, 30_000, [10_000, 30_000]),
        (6, 710, [710]),  # the subset: the whole grid on every row, as without halving
        (1, 1_000_000, [1_000_000]),
    ],
)
def test_rungs_narrow_to_one_on_every_row_and_never_start_below_min_rows(candidates, rows, expected):
    assert HalvingParams(min_rows=5000, factor=3).rungs(candidates, rows) == expected


def test_every_prefix_of_the_order_holds_every_class_in_proportion():
    labels = np.repeat(np.arange(5), [500, 200, 50, 5, 1])
    order = nested_order(labels, seed=0)
    assert sorted(order) == list(range(len(labels)))
    for rows in (5, 50, 252, 504):
        counts = np.bincount(labels[order[:rows]], minlength=5)
        share = np.bincount(labels) * rows / len(labels)
        # Each class's first row leads, displacing at most one row per class from the shares.
        assert (counts >= 1).all() and np.abs(counts - share).max() <= 5
    assert not np.array_equal(order, nested_order(labels, seed=1))


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(n_samples=4000, centers=6, n_features=10, cluster_std=9.0, random_state=0)
    return (X[:3000], y[:3000]), (X[3000:], y[3000:])


def test_halving_fits_the_survivors_on_more_rows_and_the_winner_on_all(data, monkeypatch):
    (X, y), valid = data
    space = {"C": (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)}
    fits, cls = [], type(make_head("logreg"))
    fit = cls.fit
    monkeypatch.setattr(cls, "fit", lambda self, X, y, **kw: fits.append(len(y)) or fit(self, X, y, **kw))
    found = search(make_head("logreg"), space, X, y, valid, HalvingParams(min_rows=300, factor=3))
    assert sorted(fits) == [333] * 6 + [1000] * 2 + [3000]
    assert found.to_json()["halving"] == {"train_rows": [333, 1000, 3000], "factor": 3, "seed": 0}
    reached = [c.train_rows for c in found.candidates]
    assert sorted(reached) == [333] * 4 + [1000] + [3000]
    winner = found.candidates[reached.index(3000)]
    assert found.chosen == winner.params and len(winner.rungs) == 3
    # The survivors of each rung are its best by the rule.
    first = [selection.ValidationScore(c.rungs[0]["valid_accuracy"], c.rungs[0]["valid_log_loss"])
             for c in found.candidates]  # fmt: skip
    assert {i for i, c in enumerate(found.candidates) if len(c.rungs) > 1} == set(selection.ranked(first)[:2])
    # The winner is the head fitted on every train row, as a plain fit of its params gives it.
    np.testing.assert_allclose(
        found.head.predict_proba(valid[0]),
        clone(make_head("logreg")).set_params(**winner.params).fit(X, y).predict_proba(valid[0]),
    )


def test_without_enough_rows_halving_changes_nothing(data):
    (X, y), valid = data
    space = {"C": (1e-3, 0.1, 10.0)}
    plain = search(make_head("logreg"), space, X, y, valid)
    halved = search(make_head("logreg"), space, X, y, valid, HalvingParams(min_rows=5000))
    assert halved.chosen == plain.chosen and halved.halving is None
    assert [c.valid_accuracy for c in halved.candidates] == [c.valid_accuracy for c in plain.candidates]
    assert all(c.train_rows == 3000 and c.rungs == [] for c in halved.candidates)
    assert len(grid(space)) == len(halved.candidates)
