"""Multinomial elastic-net logistic regression with python-glmnet's LogitNet, lambda by CV."""

from __future__ import annotations

import itertools
import logging
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.special import softmax
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from ..params import rule
from .base import Head, linear_module

LAMBDA_RULES = ("min", "1se")

log = logging.getLogger(__name__)
SCORINGS = ("accuracy", "log_loss")


class GlmnetHead(Head):
    """glmnet's multinomial elastic net; `alpha=1` is the lasso, as in the reference.

    Lambda is chosen by `n_splits`-fold cross-validation, at the CV optimum (`min`) or
    by the one-standard-error rule (`1se`, the largest lambda within one SE of the
    optimum). Probabilities are the softmax of the linear predictors at that lambda,
    the multinomial model's own link (LogitNet's predict_proba normalises per-class
    sigmoids instead).
    """

    name = "glmnet"
    rules = {
        "alpha": rule(min=0.0, max=1.0),
        "n_lambda": rule(min=5),
        "min_lambda_ratio": rule(min=1e-8, max=0.999),
        "n_splits": rule(min=3),
        "lambda_rule": rule(choices=LAMBDA_RULES),
        "scoring": rule(choices=SCORINGS),
        "max_iter": rule(min=1),
        "tol": rule(min=0.0),
    }

    def __init__(
        self,
        alpha: float = 1.0,
        n_lambda: int = 100,
        min_lambda_ratio: float = 1e-4,
        n_splits: int = 3,
        lambda_rule: str = "min",
        standardize: bool = True,
        scoring: str = "log_loss",
        max_iter: int = 100_000,
        tol: float = 1e-7,
        n_jobs: int = 1,
        seed: int = 0,
    ):
        self.alpha = alpha
        self.n_lambda = n_lambda
        self.min_lambda_ratio = min_lambda_ratio
        self.n_splits = n_splits
        self.lambda_rule = lambda_rule
        self.standardize = standardize
        self.scoring = scoring
        self.max_iter = max_iter
        self.tol = tol
        self.n_jobs = n_jobs
        self.seed = seed

    def fit(self, X, y, eval_set=None):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = unique_labels(y)
        net = _logged_logitnet(self.n_splits + 1)(
            alpha=self.alpha,
            n_lambda=self.n_lambda,
            min_lambda_ratio=self.min_lambda_ratio,
            n_splits=self.n_splits,
            cut_point=1.0 if self.lambda_rule == "1se" else 0.0,
            standardize=self.standardize,
            scoring=self.scoring,
            max_iter=self.max_iter,
            tol=self.tol,
            n_jobs=self.n_jobs,
            random_state=self.seed,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            net.fit(X, np.searchsorted(self.classes_, y))
        # glmnet returns the path up to the last lambda that converged; say so, loudly.
        self.warnings_ = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        self.converged_ = not any("converge" in m for m in self.warnings_)
        for message in self.warnings_:
            warnings.warn(f"glmnet: {message}", RuntimeWarning, stacklevel=2)

        self.lambda_ = float(np.ravel(net.lambda_max_ if self.lambda_rule == "1se" else net.lambda_best_)[0])
        index = int(np.argmin(np.abs(net.lambda_path_ - self.lambda_)))
        coef = net.coef_path_[..., index]  # (n_classes, n_features)
        if len(self.classes_) == 2:  # binomial: LogitNet keeps one row, for class 1
            coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.atleast_1d(net.intercept_path_[..., index])
        if len(self.classes_) == 2:
            intercept = np.array([0.0, intercept[0]])
        self.coef_, self.intercept_ = coef, intercept
        self.lambda_path_ = net.lambda_path_
        self.cv_mean_score_ = net.cv_mean_score_
        self.cv_standard_error_ = net.cv_standard_error_
        return self

    def _linear(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_")
        return validate_data(self, X, dtype=np.float64, reset=False) @ self.coef_.T + self.intercept_

    def decision_function(self, X) -> np.ndarray:
        """Linear predictors per class; for two classes, scikit-learn's 1-d margin."""
        z = self._linear(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X) -> np.ndarray:
        return softmax(self._linear(X), axis=1)

    def differentiable(self):
        return linear_module(self.coef_, self.intercept_)

    def fit_report(self) -> dict:
        nonzero = (self.coef_ != 0).sum(axis=1)
        return {
            "lambda": self.lambda_,
            "lambda_rule": self.lambda_rule,
            "lambdas_on_path": len(self.lambda_path_),
            "nonzero_per_class": dict(zip(map(str, self.classes_), nonzero.tolist(), strict=True)),
            "features_used": int((self.coef_ != 0).any(axis=0).sum()),
            "converged": self.converged_,
            "warnings": self.warnings_,
        }

    def _save_state(self, directory: Path) -> None:
        np.savez(
            directory / "coef.npz",
            coef=self.coef_,
            intercept=self.intercept_,
            lambda_=self.lambda_,
            lambda_path=self.lambda_path_,
            converged=self.converged_,
            warnings=np.array(self.warnings_, dtype=str),
        )

    def _load_state(self, directory: Path) -> None:
        state = np.load(directory / "coef.npz")
        self.coef_, self.intercept_ = state["coef"], state["intercept"]
        self.lambda_, self.lambda_path_ = float(state["lambda_"]), state["lambda_path"]
        self.n_features_in_ = self.coef_.shape[1]
        self.converged_, self.warnings_ = bool(state["converged"]), state["warnings"].tolist()


def _logged_logitnet(paths: int):
    """LogitNet that logs each lambda path it fits: one on all rows, then one per CV fold."""
    from glmnet import LogitNet

    fitted = itertools.count(1)

    class LoggedLogitNet(LogitNet):
        # clone() keeps the class, so the folds' fits are logged too; the counter is shared.
        def _fit(self, X, y, *args, **kwargs):
            start = time.perf_counter()
            result = super()._fit(X, y, *args, **kwargs)
            n = next(fitted)
            what = "the path on all rows" if n == 1 else f"CV fold {n - 1} of {paths - 1}"
            log.info("glmnet: %s (%d rows) fitted in %.1fs", what, len(X), time.perf_counter() - start)
            return result

    return LoggedLogitNet
