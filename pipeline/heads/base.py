"""The head interface: scikit-learn estimator conventions plus save/load to a folder."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from ..exceptions import PipelineError
from ..feature_source import FeatureSource
from ..params import check_value

META_FILE = "head.json"


class Head(ClassifierMixin, BaseEstimator):
    """A classifier on embeddings (or, for `input_kind == "images"`, on image paths).

    Subclasses store their params in `__init__` and nothing else (each annotated with its
    type), learn state ending in `_` in `fit`, and implement `predict_proba`, `_save_state`
    and `_load_state`. `rules` declares allowed values and bounds, as params.yaml blocks do.
    """

    name: ClassVar[str]
    input_kind: ClassVar[str] = "embeddings"
    # Params the stages fill from the backbone and embed blocks unless the head's own
    # block sets them (so the fine-tuned network starts from the embedding network).
    shared_params: ClassVar[tuple[str, ...]] = ()
    rules: ClassVar[dict[str, dict]] = {}  # param -> pipeline.params.rule(choices=, min=, max=)

    def validate_params(self, prefix: str = "") -> Head:
        """Check every param against its annotated type and `rules`; YAML lists become tuples.

        Called by the stages right after construction, so a bad value stops the stage
        before any data is read (scikit-learn itself would wait until `fit`).
        """
        prefix = prefix or f"heads.{self.name}"
        hints = typing.get_type_hints(type(self).__init__)
        for key, value in self.get_params().items():
            setattr(self, key, check_value(value, hints[key], f"{prefix}.{key}", self.rules.get(key, {})))
        return self

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)  # first: it raises NotFittedError on an unfitted head
        return self.classes_[np.argmax(proba, axis=1)]

    def differentiable(self):
        """A torch module with this head's logits, for gradient attacks; None if it has none.

        Embedding heads map embeddings to logits; image heads map [0, 1] pixels to logits.
        """
        return None

    def fit_report(self) -> dict:
        """JSON-ready facts about the fit (chosen lambda, epochs run, ...)."""
        return {}

    def chosen_in_fit(self) -> dict:
        """What `fit` itself chose on the validation rows (glmnet's lambda, the MLP's epoch)."""
        return {}

    def save(self, directory: str | Path, features: FeatureSource | None = None) -> None:
        """Params, classes, fit report and the extractor of the training inputs, then the state."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "name": self.name,
            "params": self.get_params(),
            "classes": self.classes_.tolist(),
            "fit_report": self.fit_report(),
            "features": features.to_json() if features else None,
            **self._input_meta(),
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, default=_jsonable))
        self._save_state(directory)

    @classmethod
    def load(cls, directory: str | Path, fingerprint: str | None = None) -> Head:
        """The fitted head; with `fingerprint`, stops unless its inputs come from that extractor."""
        directory = Path(directory)
        meta = read_meta(directory)
        head = cls(**meta["params"]).validate_params()  # JSON has no tuples; this restores them
        head.classes_ = np.array(meta["classes"])
        head.features_ = FeatureSource(**meta["features"]) if meta.get("features") else None
        if fingerprint is not None:
            head.check_features(fingerprint)
        head._load_state(directory)
        return head

    def trained_features(self) -> FeatureSource:
        """The extractor this head's inputs came from, as head.json records it."""
        if getattr(self, "features_", None) is None:
            raise PipelineError(
                f"head {self.name}: head.json does not say which features it was trained on (made "
                f"by an older version); retrain it: `dvc repro train@{self.name}`"
            )
        return self.features_

    def check_features(self, fingerprint: str) -> None:
        """Stop if this head would be fed vectors of another extractor than it was trained on."""
        if self.input_kind != "embeddings":
            return  # image heads carry their own network and preprocessing
        trained = self.trained_features()
        if trained.fingerprint != fingerprint:
            raise PipelineError(
                f"head {self.name} was trained on features {trained.describe()}, but these are "
                f"{fingerprint}: retrain it on them (`dvc repro train@{self.name}`), or predict "
                "images through its own extractor (`workbench predict --head DIR IMAGES`)"
            )

    def _input_meta(self) -> dict:
        """More of head.json for heads that read their inputs themselves (preprocessing)."""
        return {}

    def _save_state(self, directory: Path) -> None:
        raise NotImplementedError

    def _load_state(self, directory: Path) -> None:
        raise NotImplementedError


def read_meta(directory: Path) -> dict:
    path = Path(directory) / META_FILE
    if not path.is_file():
        raise PipelineError(f"no fitted head in {directory} ({META_FILE} not found): run `dvc repro` first")
    return json.loads(path.read_text())


def linear_module(coef: np.ndarray, intercept: np.ndarray) -> nn.Linear:
    """A frozen torch Linear computing X @ coef.T + intercept."""
    layer = nn.Linear(coef.shape[1], coef.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(coef, dtype=torch.float32))
        layer.bias.copy_(torch.as_tensor(intercept, dtype=torch.float32))
    return layer.eval().requires_grad_(False)


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
