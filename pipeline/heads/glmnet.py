"""Multinomial elastic-net logistic regression: glmnet's Fortran path, lambda chosen on validation."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import softmax
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ..params import rule
from . import selection
from .base import EmbeddingHead, validated_fit
from .halving import nested_order
from .holdout import hold_out
from .modules import linear_module

log = logging.getLogger(__name__)

NEWTON = {"exact": 0, "modified": 1}
MULTINOMIAL = ("ungrouped", "grouped")  # grouped: a feature is in or out for every class (kopt=2)
UNBOUNDED = 9.9e35  # glmnet's own "no limit" for coefficient bounds
RESTART_BELOW_DEVIANCE = 0.5  # a path that stops short having explained less is fitted again in full


@dataclass
class LognetPath:
    lambdas: np.ndarray  # (L,), decreasing
    intercepts: np.ndarray  # (L, n_classes)
    coefs: np.ndarray  # (L, n_classes, n_features)
    deviance_ratio: np.ndarray  # (L,) share of the null deviance explained
    passes: int  # passes over the data, the whole path
    requested: int  # lambdas asked for
    error: int  # glmnet's jerr: 0, or < 0 when the path stopped short without converging

    @property
    def converged(self) -> bool:
        return self.error == 0

    def stop_reason(self) -> str:
        """Why the path has fewer lambdas than requested, in words ("" if it has all)."""
        if self.error < 0:
            return (
                f"did not converge at lambda {len(self.lambdas) + 1} of {self.requested} within "
                f"{self.passes} passes; the path ends before it"
            )
        if len(self.lambdas) < self.requested:
            return (
                f"stopped after {len(self.lambdas)} of {self.requested} lambdas: deviance explained "
                f"reached {self.deviance_ratio[-1]:.3f} and stopped improving (glmnet's own rule)"
            )
        return ""


def fit_path(
    X: np.ndarray,
    y_index: np.ndarray,
    n_classes: int,
    *,
    alpha: float,
    n_lambda: int,
    min_lambda_ratio: float,
    tol: float,
    max_iter: int,
    newton: str = "modified",
    multinomial: str = "ungrouped",
    standardize: bool = True,
) -> LognetPath:
    """Fit the path from the smallest lambda that zeroes every coefficient down to `min_lambda_ratio` of it.

    python-glmnet's LogitNet hard-codes exact Newton steps (`kopt=0`). On our features that
    stalls: a feature that fires in two or three images becomes, once standardised, a spike of
    about sqrt(n) on those rows; the exact Hessian there is p(1 - p), nearly zero once those
    rows are fitted, so the Newton step on that coefficient is huge and the inner loop cycles
    at one lambda until the pass budget for the whole path is spent (a 3-fold CV fold of the
    52-class task stopped at its 27th lambda after 100,000 passes). The modified Newton form
    (`kopt=1`, R's `type.logistic = "modified.Newton"`) bounds the Hessian by 1/4 and so takes
    steps that cannot overshoot; it converges on every fold and path we measured.
    """
    from glmnet._glmnet import lognet, lsolns  # the Fortran glmnet that python-glmnet ships

    n, p = X.shape
    y = np.zeros((n, n_classes), order="F")
    y[np.arange(n), y_index] = 1.0
    kopt = 2 if multinomial == "grouped" else NEWTON[newton]

    def run(flmin: float, ulam: np.ndarray):
        # glmnet overwrites x and y in place, hence the Fortran-ordered copies.
        return lognet(
            alpha,
            n_classes,
            np.array(X, dtype=np.float64, order="F"),
            y.copy(order="F"),
            np.zeros((n, n_classes), order="F"),  # offsets
            np.zeros(1, dtype=np.int32),  # no excluded features
            np.ones(p),  # every feature penalised alike
            np.array([[-UNBOUNDED] * p, [UNBOUNDED] * p], order="F"),
            p + 1,  # nx: at most every feature in the model
            flmin,  # < 1: the path ends at this fraction of the first lambda; >= 1: ulam's lambdas
            ulam,
            tol,
            p + 1,
            len(ulam),
            int(standardize),
            1,  # fit intercepts
            max_iter,
            kopt,
        )

    lmu, a0, ca, ia, nin, _, dev, alm, nlp, jerr = run(min_lambda_ratio, np.zeros(n_lambda))
    if jerr == 0 and 2 < lmu < n_lambda and dev[lmu - 1] < RESTART_BELOW_DEVIANCE:
        # glmnet ends a path early when deviance explained changes by under 1e-5 from one
        # lambda to the next. At a small alpha the first lambdas change almost nothing, so the
        # path can end at its 5th lambda with a null model (a 1,000-row, 100-class curve point
        # at alpha 0.01 did: chance accuracy). Its own lambdas, given back, run without that rule.
        first = alm[1] ** 2 / alm[2]  # the first lambda, which glmnet reports as "infinity"
        lambdas = first * min_lambda_ratio ** (np.arange(n_lambda) / (n_lambda - 1))
        lmu, a0, ca, ia, nin, _, dev, alm, more, jerr = run(1.0, lambdas)
        nlp += more
    if jerr > 0:
        raise ValueError(f"glmnet failed (error {jerr}): {_FATAL.get(jerr, 'see glmnet docs')}")
    coefs = lsolns(p, ca[:, :, :lmu], ia, nin[:lmu])  # (p, n_classes, lmu)
    lambdas = alm[:lmu].copy()
    if lmu > 2:  # glmnet reports the first lambda as "infinity"; put it where the geometric path has it
        lambdas[0] = lambdas[1] ** 2 / lambdas[2]
    return LognetPath(
        lambdas=lambdas,
        intercepts=a0[:, :lmu].T.copy(),
        coefs=np.moveaxis(coefs, 2, 0).transpose(0, 2, 1).copy(),
        deviance_ratio=dev[:lmu].copy(),
        passes=int(nlp),
        requested=n_lambda,
        error=int(jerr),
    )


_FATAL = {7777: "every feature is constant", 10000: "no feature is penalised"}


class GlmnetHead(EmbeddingHead):
    """glmnet's multinomial elastic net; `alpha=1` is the lasso, as in the reference.

    One path of `n_lambda` lambdas is fitted on the train rows, from the smallest lambda
    that zeroes every coefficient down to `min_lambda_ratio` of it, and every lambda is
    scored on the validation rows by the rule all heads follow (pipeline/heads/selection.py);
    the winner's coefficients are kept. Without an `eval_set`, `validation_fraction` of the
    train rows (stratified) is held out for that. Probabilities are the softmax of the
    linear predictors, the multinomial model's own link.

    The path's cost grows faster than rows x classes x features (3,000 rows of the 100-class
    synthetic task at 512-d: 51 s; 10,000: 235 s, where logistic regression takes 1.5 s).
    `max_train_rows` fits the path on a stratified seeded share of that many train rows;
    the train stage projects the search's time at load and names this param when it is long.

    Defaults, and why (measured on Caltech 101 random-init features, 22 and 52 classes):
    `newton: modified` because exact Newton steps stall on rarely-firing features
    (`fit_path`); `min_lambda_ratio: 1e-3` because with fewer rows than
    features the last decade of a 1e-4 path only interpolates the train rows (deviance
    explained above 0.99) and costs most of the passes; 100 lambdas because warm starts
    from a closer lambda converge where 50 did not (52 classes, alpha 1: stuck at the 13th
    of 50 after 100,000 passes; the 100-lambda path converges in 65,000). `tol: 1e-5`
    because glmnet stops a coordinate loop when no update changes the objective by more than
    `tol` times the null deviance, which with 2048 features x many classes asks each
    coefficient for ever smaller steps as the task grows: R's 1e-7 took 65,089 passes (77 s)
    on 52 classes, 1e-5 takes 8,199 (25 s) with the same validation accuracy along the path
    (0.304 vs 0.299 at the chosen lambda) and converges on the 100-class synthetic task too.
    """

    name = "glmnet"
    rules = {
        "alpha": rule(min=0.0, max=1.0),
        "n_lambda": rule(min=3),
        "min_lambda_ratio": rule(gt=0.0, lt=1.0),
        "newton": rule(choices=tuple(NEWTON)),
        "multinomial": rule(choices=MULTINOMIAL),
        "max_iter": rule(min=1),
        "tol": rule(gt=0.0),
        "validation_fraction": rule(min=0.0, max=0.5),
        "max_train_rows": rule(min=2),
    }
    # Seconds per train row x class x feature of one path, measured on the 100-class synthetic
    # task at 512-d (10,000 rows: 235 s on 2 cores; 3,000: 51 s): a rough projection, said at load.
    SECONDS_PER_CELL = 4.6e-7

    def __init__(
        self,
        alpha: float = 1.0,
        n_lambda: int = 100,
        min_lambda_ratio: float = 1e-3,
        newton: str = "modified",
        multinomial: str = "ungrouped",
        standardize: bool = True,
        max_iter: int = 100_000,
        tol: float = 1e-5,
        validation_fraction: float = 0.2,
        max_train_rows: int | None = None,
        seed: int = 0,
    ):
        self.alpha = alpha
        self.n_lambda = n_lambda
        self.min_lambda_ratio = min_lambda_ratio
        self.newton = newton
        self.multinomial = multinomial
        self.standardize = standardize
        self.max_iter = max_iter
        self.tol = tol
        self.validation_fraction = validation_fraction
        self.max_train_rows = max_train_rows
        self.seed = seed

    def projected_seconds(self, rows: int, classes: int, features: int) -> float:
        """A rough forecast of one fit's seconds on `rows` rows (see SECONDS_PER_CELL)."""
        return self.SECONDS_PER_CELL * rows * classes * features

    def rows_fitted(self, rows: int) -> int:
        return min(rows, self.max_train_rows or rows)

    @validated_fit
    def fit(self, X, y, eval_set=None):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise ValueError("glmnet needs at least 2 classes; the train rows hold 1 class")
        y_index = np.searchsorted(self.classes_, y)
        if eval_set is not None:
            X_val = check_array(eval_set[0], dtype=np.float64)
            y_val = np.searchsorted(self.classes_, eval_set[1])
        else:
            X, y_index, X_val, y_val = hold_out(X, y_index, self.validation_fraction, self.seed)
            if X_val is None:
                raise ValueError(
                    f"glmnet chooses lambda on validation rows, and {len(y_index)} train rows of "
                    f"{len(self.classes_)} classes are too few to hold any out: pass an eval_set"
                )
        if self.max_train_rows is not None and len(y_index) > self.max_train_rows:
            # The cap is a stratified seeded share, said here and recorded in fit.json.
            kept = np.sort(nested_order(y_index, self.seed)[: self.max_train_rows])
            log.info("glmnet: fitted on %d of %d train rows (max_train_rows)", len(kept), len(y_index))
            X, y_index = X[kept], y_index[kept]
        self.fitted_rows_ = len(y_index)
        start = time.perf_counter()
        path = fit_path(
            X,
            y_index,
            len(self.classes_),
            alpha=self.alpha,
            n_lambda=self.n_lambda,
            min_lambda_ratio=self.min_lambda_ratio,
            tol=self.tol,
            max_iter=self.max_iter,
            newton=self.newton,
            multinomial=self.multinomial,
            standardize=self.standardize,
        )
        log.info(
            "glmnet alpha=%g: %d lambdas, %d passes, %.1fs",
            self.alpha, len(path.lambdas), path.passes, time.perf_counter() - start,
        )  # fmt: skip
        self.converged_ = path.converged
        self.path_note_ = path.stop_reason()
        if not path.converged:  # say so, loudly: the path a user gets is shorter than asked
            warnings.warn(f"glmnet alpha={self.alpha}: {self.path_note_}", RuntimeWarning, stacklevel=1)
        # Every lambda scored on the validation rows, one at a time: (lambdas, rows, classes) at
        # once would be gigabytes at 20,000 valid rows and 100 classes.
        self.path_scores_ = [
            selection.score(softmax(X_val @ coef.T + intercept, axis=1), y_val)
            for coef, intercept in zip(path.coefs, path.intercepts, strict=True)
        ]
        self.lambda_index_ = selection.best(self.path_scores_)
        self.coef_ = path.coefs[self.lambda_index_]
        self.intercept_ = path.intercepts[self.lambda_index_]
        self.lambda_path_ = path.lambdas
        self.deviance_ratio_ = path.deviance_ratio
        self.passes_ = path.passes
        return self

    @property
    def lambda_(self) -> float:
        return float(self.lambda_path_[self.lambda_index_])

    def chosen_in_fit(self) -> dict:
        return {"lambda": round(self.lambda_, 6)}

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
        chosen, last = self.lambda_index_ + 1, len(self.lambda_path_)
        report = {
            "lambda": self.lambda_,
            "lambda_index": chosen,
            "lambdas_on_path": last,
            "nonzero_per_class": dict(zip(map(str, self.classes_), nonzero.tolist(), strict=True)),
            "features_used": int((self.coef_ != 0).any(axis=0).sum()),
            "deviance_ratio": float(self.deviance_ratio_[self.lambda_index_]),
            "passes": self.passes_,
            "converged": self.converged_,
            "path_note": self.path_note_,
            "train_rows_fitted": self.fitted_rows_,
        }
        if chosen == last and last == self.n_lambda:
            report["path_note"] = (
                f"validation still improved at the path's last lambda: lower min_lambda_ratio "
                f"(now {self.min_lambda_ratio:g}) to look further"
            )
        return report

    def _save_state(self, directory: Path) -> None:
        np.savez(
            directory / "coef.npz",
            coef=self.coef_,
            intercept=self.intercept_,
            lambda_index=self.lambda_index_,
            lambda_path=self.lambda_path_,
            deviance_ratio=self.deviance_ratio_,
            passes=self.passes_,
            converged=self.converged_,
            path_note=self.path_note_,
            fitted_rows=self.fitted_rows_,
        )

    def _load_state(self, directory: Path) -> None:
        state = np.load(directory / "coef.npz")
        self.coef_, self.intercept_ = state["coef"], state["intercept"]
        self.lambda_index_, self.lambda_path_ = int(state["lambda_index"]), state["lambda_path"]
        self.deviance_ratio_, self.passes_ = state["deviance_ratio"], int(state["passes"])
        self.n_features_in_ = self.coef_.shape[1]
        self.converged_, self.path_note_ = bool(state["converged"]), str(state["path_note"])
        saved_rows = state.get("fitted_rows")  # None: saved before max_train_rows existed
        self.fitted_rows_ = None if saved_rows is None else int(saved_rows)
