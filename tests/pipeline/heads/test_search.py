"""Params chosen on the validation split: the rule, the record, and bad search spaces."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from pipeline.exceptions import ParamsError
from pipeline.heads import selection
from pipeline.heads.registry import make_head
from pipeline.heads.search import check_space, grid, search


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(n_samples=600, centers=4, n_features=20, cluster_std=12.0, random_state=3)
    return (X[:300], y[:300]), (X[300:450], y[300:450]), (X[450:], y[450:])


def test_grid_lists_every_combination_first_values_first():
    assert grid({"a": (1, 2), "b": ("x", "y")}) == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
    ]
    assert grid({}) == [{}]


def test_the_best_validation_score_wins_and_every_candidate_is_recorded(data):
    (X, y), valid, _ = data
    space = {"n_neighbors": (1, 15, 60), "weights": ("uniform", "distance")}
    found = search(make_head("knn"), space, X, y, valid)
    expected = []
    for params in grid(space):
        head = make_head("knn", **params).fit(X, y)
        expected.append(selection.score(head.predict_proba(valid[0]), valid[1]))
    winner = grid(space)[selection.best(expected)]
    assert found.chosen == winner
    assert [c.params for c in found.candidates] == grid(space)
    assert [c.valid_accuracy for c in found.candidates] == [s.accuracy for s in expected]
    assert [c.valid_log_loss for c in found.candidates] == pytest.approx([s.log_loss for s in expected])
    assert len({c.valid_accuracy for c in found.candidates}) > 2, "the space must offer a real choice"
    # The winner is kept as fitted on train, not refitted on train + valid.
    np.testing.assert_array_equal(
        found.head.predict_proba(X), make_head("knn", **winner).fit(X, y).predict_proba(X)
    )
    record = found.to_json()
    assert record["chosen"] == winner and "valid split" in record["rule"] and len(record["candidates"]) == 6


def test_ties_go_to_the_lower_log_loss_then_to_the_first_listed():
    Score = selection.ValidationScore
    assert selection.best([Score(0.5, 1.2), Score(0.6, 1.5), Score(0.6, 1.1)]) == 2
    assert selection.best([Score(0.6, 1.1), Score(0.6, 1.1)]) == 0


def test_log_loss_of_a_zero_probability_is_large_not_infinite():
    result = selection.score(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1, 1]))
    assert result.accuracy == 0.5 and 10 < result.log_loss < 40


def test_without_a_search_the_head_is_fitted_as_given(data):
    (X, y), valid, _ = data
    found = search(make_head("logreg", C=0.5), {}, X, y, valid)
    assert found.chosen == {} and found.head.C == 0.5 and len(found.candidates) == 1


def test_a_search_needs_validation_rows(data):
    (X, y), _, _ = data
    with pytest.raises(ValueError, match=r"heads\.logreg\.search needs validation rows to choose among 2"):
        search(make_head("logreg"), {"C": (0.1, 1.0)}, X, y, None)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        (
            {"c": [0.1]},
            r"heads\.logreg\.search\.c: not a param of logreg; it takes \['C', 'max_iter', 'seed'\]",
        ),
        ({"C": []}, r"heads\.logreg\.search\.C: expected a non-empty list of values to try, got \[\]"),
        ({"C": 0.1}, r"heads\.logreg\.search\.C: expected a non-empty list"),
        ({"C": [0.1, -1.0]}, r"heads\.logreg\.search\.C: got -1\.0; must be above 0\.0"),
        ([0.1], r"heads\.logreg\.search: expected a mapping of param -> list of values"),
    ],
)
def test_bad_search_spaces_stop_at_load(space, message):
    with pytest.raises(ParamsError, match=message):
        check_space(make_head("logreg"), space, "heads.logreg.search")


def test_yaml_lists_in_a_search_become_the_heads_own_types():
    space = check_space(make_head("mlp"), {"hidden_sizes": [[64], [128, 64]]}, "heads.mlp.search")
    assert space == {"hidden_sizes": ((64,), (128, 64))}


def test_a_param_both_set_and_searched_stops_naming_both():
    with pytest.raises(
        ParamsError, match=r"heads\.logreg\.C is set and also searched \(heads\.logreg\.search\.C\)"
    ):
        check_space(make_head("logreg"), {"C": [0.1]}, "heads.logreg.search", {"C": 0.3, "search": {}})


def test_a_candidate_that_cannot_run_here_is_recorded_and_skipped(data):
    (X, y), valid, _ = data
    found = search(make_head("knn"), {"n_neighbors": (5, 10_000)}, X, y, valid)
    assert found.chosen == {"n_neighbors": 5}
    skipped = found.candidates[1]
    assert skipped.valid_accuracy is None and "n_neighbors" in skipped.error
    with pytest.raises(ParamsError, match="no candidate of heads.knn.search could be fitted"):
        search(make_head("knn"), {"n_neighbors": (10_000, 20_000)}, X, y, valid)
    # one candidate alone ends in the same kind of sentence (the CLI's one line), not the library's error
    with pytest.raises(ParamsError, match=r"heads\.knn: \{'n_neighbors': 10000\} cannot be fitted on these"):
        search(make_head("knn"), {"n_neighbors": (10_000,)}, X, y, valid)


def test_knn_scores_every_candidate_from_one_neighbour_search(data, monkeypatch):
    from sklearn.neighbors import KNeighborsClassifier

    (X, y), (X_val, y_val), _ = data
    X_val = np.vstack([X_val, X[:5]])  # exact copies of train rows: distance 0 takes every vote
    y_val = np.concatenate([y_val, y[:5]])
    calls = []
    real = KNeighborsClassifier.kneighbors
    monkeypatch.setattr(
        KNeighborsClassifier, "kneighbors", lambda self, *a, **k: calls.append(1) or real(self, *a, **k)
    )
    space = {"n_neighbors": (1, 5, 40), "weights": ("distance", "uniform")}
    found = search(make_head("knn"), space, X, y, (X_val, y_val))
    assert len(calls) == 1
    monkeypatch.setattr(KNeighborsClassifier, "kneighbors", real)
    for params, candidate in zip(grid(space), found.candidates, strict=True):
        fitted = make_head("knn", **params).fit(X, y)
        expected = selection.score(fitted.predict_proba(X_val), y_val)
        assert (candidate.valid_accuracy, candidate.valid_log_loss) == pytest.approx(
            (expected.accuracy, expected.log_loss)
        )


@pytest.mark.parametrize(
    ("name", "space"), [("knn", {"n_neighbors": (1, 15)}), ("logreg", {"C": (0.01, 1.0)})]
)
def test_the_winners_valid_probabilities_come_back_as_scored(data, name, space):
    """train's reject thresholds read them instead of predicting the valid images again."""
    (X, y), valid, _ = data
    found = search(make_head(name), space, X, y, valid)
    np.testing.assert_allclose(found.valid_proba, found.head.predict_proba(valid[0]), atol=1e-12)
