"""Learning curves: nested seeded draws shared by all heads, honest points, notes for what cannot fit."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_blobs

from pipeline.analysis.curves import learning_curves, nested_draws
from pipeline.heads.registry import make_head


def test_draws_are_nested_per_class_and_seeded():
    labels = np.repeat([0, 1, 2], [10, 3, 7])
    draws = nested_draws(labels, [1, 2, 5], draws=3, seed=0)
    for d in range(3):
        small, medium, large = (set(draws[k][d]) for k in (1, 2, 5))
        assert small <= medium <= large
        assert np.bincount(labels[draws[5][d]]).tolist() == [5, 3, 5]  # class 1 has only 3
        assert np.bincount(labels[draws[1][d]]).tolist() == [1, 1, 1]
    assert [list(a) for a in draws[2]] == [list(a) for a in nested_draws(labels, [2], 3, seed=0)[2]]
    assert len({tuple(a) for a in draws[2]}) > 1  # different draws differ


def _data():
    X, y = make_blobs(n_samples=600, centers=4, n_features=16, cluster_std=4.0, random_state=0)
    split = np.array(["train"] * 400 + ["valid"] * 50 + ["test"] * 150)
    return X.astype(np.float32), y, split


def _fitted(head, X, y, split):
    """A head as train leaves it: fitted on the train split, validated on the valid split."""
    train, valid = split == "train", split == "valid"
    return head.fit(X[train], y[train], eval_set=(X[valid], y[valid]))


def test_accuracy_grows_and_the_whole_split_is_train_s_head_itself():
    X, y, split = _data()
    heads = {name: _fitted(make_head(name, **kw), X, y, split)
             for name, kw in (("logreg", {}), ("knn", {"n_neighbors": 5}))}  # fmt: skip
    coef = heads["logreg"].model_[-1].coef_.copy()
    result = learning_curves(heads, X, None, y, split, [1, 2, 20], draws=3, seed=0,
                             resamples=200, level=0.95)  # fmt: skip
    logreg = {p.per_class: p for p in result.heads["logreg"]}
    assert list(logreg) == [1, 2, 20, None]
    assert logreg[1].accuracy < logreg[20].accuracy
    for p in logreg.values():
        assert p.ci[0] <= p.accuracy <= p.ci[1]
        assert np.isclose(np.mean(p.draws), p.accuracy)
    test = split == "test"
    assert logreg[None].accuracy == np.mean(heads["logreg"].predict(X[test]) == y[test])
    assert logreg[None].n_train == 400 and len(logreg[None].draws) == 1
    assert logreg[None].fit_seconds is None and logreg[1].fit_seconds > 0
    assert np.array_equal(heads["logreg"].model_[-1].coef_, coef)  # the draws fit clones, not train's head
    # k-NN with k = 5 cannot answer from 4 train images: no point, and a note that says why.
    assert [p.per_class for p in result.heads["knn"]] == [2, 20, None]
    assert any(n.startswith("knn at 1 per class: no point") for n in result.notes)


def test_a_size_as_large_as_the_biggest_class_is_the_whole_split():
    X, y, split = _data()
    logreg = _fitted(make_head("logreg"), X, y, split)
    result = learning_curves({"logreg": logreg}, X, None, y, split, [2, 500], draws=2,
                             seed=0, resamples=100, level=0.9)  # fmt: skip
    assert [p.per_class for p in result.heads["logreg"]] == [2, None]
    assert any("500 per class is the whole train split" in n for n in result.notes)


def test_a_row_cap_shows_in_the_whole_split_point_and_a_note():
    X, y, split = _data()
    glmnet = _fitted(make_head("glmnet", n_lambda=10, max_train_rows=100), X, y, split)
    result = learning_curves({"glmnet": glmnet}, X, None, y, split, [2], draws=1, seed=0,
                             resamples=100, level=0.9)  # fmt: skip
    points = {p.per_class: p for p in result.heads["glmnet"]}
    assert points[2].n_train == 8 and points[None].n_train == 100  # 100 of the 400 train rows
    assert any("at most 100 train rows (heads.glmnet.max_train_rows)" in n for n in result.notes)


def test_labels_may_be_class_names():
    X, y, split = _data()
    names = np.array(["cat", "dog", "eel", "fox"])[y]
    logreg = _fitted(make_head("logreg"), X, names, split)
    result = learning_curves({"logreg": logreg}, X, None, names, split, [2], draws=2, seed=0,
                             resamples=100, level=0.9)  # fmt: skip
    by_ints = learning_curves({"logreg": _fitted(make_head("logreg"), X, y, split)}, X, None, y, split,
                              [2], draws=2, seed=0, resamples=100, level=0.9)  # fmt: skip
    for named, numbered in zip(result.heads["logreg"], by_ints.heads["logreg"], strict=True):
        assert (named.accuracy, named.ci, named.draws) == (numbered.accuracy, numbered.ci, numbered.draws)
