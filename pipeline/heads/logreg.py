"""L2 logistic regression head: the plain linear baseline next to glmnet's sparse one."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ..params import rule
from .modules import linear_module
from .sklearn_base import SklearnHead


class LogRegHead(SklearnHead):
    """Multinomial logistic regression with an L2 penalty on standardised features."""

    name = "logreg"
    rules = {"C": rule(gt=0.0), "max_iter": rule(min=1)}

    def __init__(self, C: float = 0.1, max_iter: int = 2000, seed: int = 0):
        self.C = C
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, X, y, eval_set=None):
        super().fit(X, y)  # checks the params
        self.n_iter_ = self.model_[-1].n_iter_
        return self

    def differentiable(self):
        """Standardisation folded into the linear map: logits = x @ (W / s).T + b - (W / s) @ m."""
        scaler, model = self.model_[0], self.model_[-1]
        weight = model.coef_ / scaler.scale_
        return linear_module(weight, model.intercept_ - weight @ scaler.mean_)

    def _pipeline(self) -> Pipeline:
        return make_pipeline(
            StandardScaler(), LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed)
        )
