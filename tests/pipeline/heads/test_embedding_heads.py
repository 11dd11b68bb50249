"""Heads on embeddings: scikit-learn conventions, accuracy on separable data, save/load."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import check_estimator

from pipeline.exceptions import ParamsError
from pipeline.heads import selection
from pipeline.heads.glmnet import fit_path
from pipeline.heads.names import enabled_heads
from pipeline.heads.registry import HEADS, make_head

EMBEDDING_HEADS = ["mlp", "glmnet", "knn", "logreg"]
FAST = {"mlp": {"epochs": 30}, "glmnet": {"n_lambda": 30}, "knn": {}, "logreg": {}}

# The documented subset: checks these heads fail on purpose, and why.
EXPECTED_FAILURES = {
    "glmnet": {
        "check_non_transformer_estimators_n_iter": "glmnet's Fortran solver does not report "
        "iteration counts; max_iter is passed through to it",
    },
    "knn": {
        "check_estimator_sparse_tag": "the cosine-normalised k-NN accepts sparse input, which "
        "the default tags do not declare; heads are only fed dense embeddings",
    },
}


@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_scikit_learn_estimator_checks(name):
    check_estimator(HEADS[name](**FAST[name]), expected_failed_checks=EXPECTED_FAILURES.get(name, {}))


@pytest.fixture(scope="module")
def separable():
    X, y = make_blobs(n_samples=600, centers=5, n_features=64, cluster_std=4.0, random_state=0)
    labels = np.array(["ant", "bee", "cat", "dog", "eel"])[y]
    return X[:400], labels[:400], X[400:], labels[400:]


@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_well_separated_embeddings_are_learnt(name, separable):
    X, y, X_test, y_test = separable
    head = make_head(name, **FAST[name]).fit(X, y)
    assert head.score(X_test, y_test) >= 0.95
    proba = head.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert list(head.classes_) == ["ant", "bee", "cat", "dog", "eel"]


@pytest.mark.parametrize("name", EMBEDDING_HEADS)
def test_save_load_gives_identical_predictions(name, separable, tmp_path):
    X, y, X_test, _ = separable
    head = make_head(name, **FAST[name]).fit(X, y)
    head.save(tmp_path / name)
    loaded = HEADS[name].load(tmp_path / name)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), head.predict_proba(X_test))
    assert loaded.get_params() == head.get_params()


def test_mlp_early_stops_on_validation_and_keeps_the_best_epoch(separable):
    X, y, X_val, y_val = separable
    head = make_head("mlp", epochs=200, patience=3, lr=0.01).fit(X, y, eval_set=(X_val, y_val))
    losses = [r["valid_loss"] for r in head.history_]
    assert len(losses) < 200
    assert head.best_epoch_ == int(np.argmin(losses)) + 1
    assert set(head.history_[0]) == {"epoch", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy"}


def test_mlp_is_seeded():
    X, y = make_blobs(n_samples=120, centers=3, n_features=16, random_state=1)
    a, b = (make_head("mlp", epochs=5, seed=3).fit(X, y).predict_proba(X) for _ in range(2))
    c = make_head("mlp", epochs=5, seed=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.fixture(scope="module")
def overlapping():
    """Classes that overlap, so the lambdas of a path score differently on validation."""
    X, y = make_blobs(n_samples=900, centers=6, n_features=40, cluster_std=9.0, random_state=2)
    return X[:500], y[:500], X[500:700], y[500:700]


def test_glmnet_keeps_the_lambda_best_on_validation(overlapping):
    X, y, X_val, y_val = overlapping
    head = make_head("glmnet", n_lambda=30).fit(X, y, eval_set=(X_val, y_val))
    scores = [selection.score(head_at(head, X, y, i).predict_proba(X_val), y_val) for i in range(30)]
    assert head.lambda_index_ == selection.best(scores)
    assert [s.accuracy for s in scores] == [s.accuracy for s in head.path_scores_]
    np.testing.assert_allclose([s.log_loss for s in scores], [s.log_loss for s in head.path_scores_])
    assert len({s.accuracy for s in scores}) > 3, "the path must offer a real choice"
    report = head.fit_report()
    assert report["lambda"] == head.lambda_ == head.lambda_path_[head.lambda_index_]
    assert set(report["nonzero_per_class"]) == {str(c) for c in head.classes_}
    assert 0 < report["features_used"] <= 40 and report["converged"] is True
    assert head.chosen_in_fit() == {"lambda": round(head.lambda_, 6)}


def head_at(fitted, X, y, index):
    """A copy of `fitted` holding the coefficients of lambda `index` of the same path, refitted."""
    head = make_head("glmnet", n_lambda=30).fit(X, y, eval_set=(X[:50], y[:50]))
    np.testing.assert_allclose(head.lambda_path_, fitted.lambda_path_)
    path = fit_path(X, np.searchsorted(head.classes_, y), 6, alpha=1.0, n_lambda=30,
                    min_lambda_ratio=head.min_lambda_ratio, tol=head.tol, max_iter=head.max_iter)  # fmt: skip
    head.coef_, head.intercept_ = path.coefs[index], path.intercepts[index]
    return head


def test_a_glmnet_path_cut_short_is_fitted_again_on_its_own_lambdas_in_full(monkeypatch):
    """glmnet's "deviance stopped changing" rule once ended an alpha-0.01 path at its 5th
    lambda with a null model; the head then hands glmnet its own lambdas, which run in full.
    Here a separable task ends early by the same rule family (deviance explained past 0.999),
    and the restart is forced, to check that it is glmnet's own path, only longer."""
    X, y = make_blobs(n_samples=300, centers=3, n_features=10, cluster_std=1.0, random_state=0)
    kwargs = dict(alpha=1.0, n_lambda=50, min_lambda_ratio=1e-6, tol=1e-7, max_iter=100_000)
    short = fit_path(X, y, 3, **kwargs)
    assert len(short.lambdas) < 50 and short.deviance_ratio[-1] > 0.999
    monkeypatch.setattr("pipeline.heads.glmnet.RESTART_BELOW_DEVIANCE", 1.0)
    full = fit_path(X, y, 3, **kwargs)
    assert len(full.lambdas) == 50 and full.passes > short.passes
    k = len(short.lambdas)
    np.testing.assert_allclose(full.lambdas[:k], short.lambdas)
    np.testing.assert_allclose(full.coefs[:k], short.coefs, atol=1e-10)


def test_glmnet_max_train_rows_fits_a_stratified_share_and_records_it(overlapping):
    X, y, X_val, y_val = overlapping
    head = make_head("glmnet", n_lambda=20, max_train_rows=120).fit(X, y, eval_set=(X_val, y_val))
    assert head.fit_report()["train_rows_fitted"] == 120
    assert list(head.classes_) == list(np.unique(y))  # every class is in the share
    same = make_head("glmnet", n_lambda=20, max_train_rows=120).fit(X, y, eval_set=(X_val, y_val))
    np.testing.assert_array_equal(head.coef_, same.coef_)  # seeded
    uncapped = make_head("glmnet", n_lambda=20).fit(X, y, eval_set=(X_val, y_val))
    assert uncapped.fit_report()["train_rows_fitted"] == len(y)
    assert not np.array_equal(head.coef_, uncapped.coef_)


def test_glmnet_without_eval_set_holds_out_validation_rows(overlapping):
    X, y, _, _ = overlapping
    head = make_head("glmnet", n_lambda=20, validation_fraction=0.25).fit(X, y)
    assert head.lambda_index_ == selection.best(head.path_scores_)
    with pytest.raises(ValueError, match="too few to hold any out: pass an eval_set"):
        make_head("glmnet", n_lambda=20).fit(X[:4], y[:4] % 2)


def test_glmnet_exact_and_modified_newton_reach_the_same_solution(overlapping):
    """Two forms of one optimisation problem: where both converge, their models agree."""
    X, y, X_val, _ = overlapping
    exact, modified = (
        fit_path(
            X, y, 6, alpha=1.0, n_lambda=20, min_lambda_ratio=1e-2, tol=1e-9, max_iter=10**6, newton=form
        )
        for form in ("exact", "modified")
    )
    assert exact.converged and modified.converged
    np.testing.assert_allclose(exact.lambdas, modified.lambdas)
    for i in range(20):
        proba = [softmax(X_val @ p.coefs[i].T + p.intercepts[i], axis=1) for p in (exact, modified)]
        np.testing.assert_allclose(*proba, atol=0.02)  # glmnet stops on coefficient change, not on loss


def test_glmnet_says_when_its_path_stops_short(overlapping):
    X, y, X_val, y_val = overlapping
    with pytest.warns(RuntimeWarning, match=r"did not converge at lambda \d+ of 30 within \d+ passes"):
        head = make_head("glmnet", n_lambda=30, max_iter=50).fit(X, y, eval_set=(X_val, y_val))
    report = head.fit_report()
    assert report["converged"] is False and report["lambdas_on_path"] < 30
    assert "did not converge" in report["path_note"]


def test_glmnet_probabilities_are_the_multinomial_softmax(separable):
    X, y, X_test, _ = separable
    head = make_head("glmnet", n_lambda=30).fit(X, y)
    z = X_test @ head.coef_.T + head.intercept_
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(head.predict_proba(X_test), expected / expected.sum(1, keepdims=True))


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("lasso", {}, r"heads: got 'lasso'; choose from \['finetune', 'glmnet', 'knn', 'logreg', 'mlp'\]"),
        ("mlp", {"dropuot": 0.1}, r"heads\.mlp\.dropuot: unknown key \(did you mean 'dropout'\?\)"),
        ("mlp", {"epochs": 2.5}, r"heads\.mlp\.epochs: got 2\.5 \(float\); expected int"),
        (
            "mlp",
            {"optimizer": "lbfgs"},
            r"heads\.mlp\.optimizer: got 'lbfgs'; choose from \['rmsprop', 'adam', 'adamw', 'sgd'\]",
        ),
        ("mlp", {"dropout": 1.0}, r"heads\.mlp\.dropout: got 1\.0; must be between 0\.0 and 0\.95"),
        (
            "glmnet",
            {"newton": "full"},
            r"heads\.glmnet\.newton: got 'full'; choose from \['exact', 'modified'\]",
        ),
        ("glmnet", {"alpha": 2}, r"heads\.glmnet\.alpha: got 2; must be between 0\.0 and 1\.0"),
        ("finetune", {"freeze": "layer9"}, r"heads\.finetune\.freeze: got 'layer9'"),
    ],
)
def test_bad_params_fail_with_clear_messages(name, params, message):
    with pytest.raises(ParamsError, match=message):
        make_head(name, **params)


def test_enabled_heads_are_checked():
    assert enabled_heads({"enabled": ["mlp", "knn"]}) == ["mlp", "knn"]
    with pytest.raises(ParamsError, match="got 'svm'"):
        enabled_heads({"enabled": ["mlp", "svm"]})
    with pytest.raises(ParamsError, match="each head once"):
        enabled_heads({"enabled": ["mlp", "mlp"]})


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("mlp", {"dropout": 1.0}, r"heads\.mlp\.dropout: got 1\.0; must be between 0\.0 and 0\.95"),
        ("mlp", {"lr": 0.0}, r"heads\.mlp\.lr: got 0\.0; must be above 0\.0"),
        (
            "glmnet",
            {"min_lambda_ratio": 1.0},
            r"heads\.glmnet\.min_lambda_ratio: got 1\.0; must be above 0\.0 and below 1\.0",
        ),
        ("knn", {"n_neighbors": 0}, r"heads\.knn\.n_neighbors: got 0; must be at least 1"),
        ("logreg", {"C": 0.0}, r"heads\.logreg\.C: got 0\.0; must be above 0\.0"),
    ],
)
def test_params_set_after_construction_are_checked_at_fit(name, params, message, separable):
    """As scikit-learn checks at fit: a head built or changed by hand gets the same message."""
    X, y, _, _ = separable
    head = HEADS[name]().set_params(**params)
    with pytest.raises(ParamsError, match=message):
        head.fit(X, y)


def test_knn_on_an_hnsw_graph_votes_as_the_exact_search_does(tmp_path):
    from pipeline.heads.search import search
    from tests.pipeline.embedding.test_nearest import clustered

    labels, vectors = clustered(6_000, classes=20)
    train, test = slice(0, 5_000), slice(5_000, None)
    for weights in ("distance", "uniform"):
        exact = make_head("knn", n_neighbors=10, weights=weights, index="exact")
        exact.fit(vectors[train], labels[train])
        graph = make_head("knn", n_neighbors=10, weights=weights, index="approximate")
        graph.fit(vectors[train], labels[train])
        assert graph.fit_report() == {"index": "approximate (HNSW)"}
        agree = (exact.predict(vectors[test]) == graph.predict(vectors[test])).mean()
        assert agree > 0.97
        np.testing.assert_allclose(graph.predict_proba(vectors[test]).sum(axis=1), 1.0, atol=1e-9)
    found = search(make_head("knn", index="approximate"), {"n_neighbors": (5, 10)}, vectors[train],
                   labels[train], (vectors[test], labels[test]))  # fmt: skip
    assert found.head.fit_report() == graph.fit_report() and len(found.candidates) == 2
    graph.save(tmp_path / "knn")
    loaded = type(graph).load(tmp_path / "knn")
    np.testing.assert_array_equal(loaded.predict_proba(vectors[test]), graph.predict_proba(vectors[test]))
