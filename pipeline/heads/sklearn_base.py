"""Shared plumbing for heads that wrap a scikit-learn pipeline (saved with joblib)."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .base import EmbeddingHead, validated_fit

MODEL_FILE = "model.joblib"  # joblib unpickles: loading runs code, so load only your own files


class SklearnHead(EmbeddingHead):
    """A head whose model is the scikit-learn pipeline that `_pipeline()` builds."""

    def _pipeline(self) -> Pipeline:
        raise NotImplementedError

    @validated_fit
    def fit(self, X, y, eval_set=None):
        self.model_ = self._pipeline().fit(X, y)
        self.classes_ = self.model_.classes_
        self.n_features_in_ = self.model_.n_features_in_
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(X)

    def _save_state(self, directory: Path) -> None:
        joblib.dump(self.model_, directory / MODEL_FILE)

    def _load_state(self, directory: Path) -> None:
        self.model_ = joblib.load(directory / MODEL_FILE)
        self.n_features_in_ = self.model_.n_features_in_
