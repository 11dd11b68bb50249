"""The head interface: scikit-learn estimator conventions, save/load to a folder, and the two
kinds of input (embeddings, or the images themselves) that own everything that differs by kind."""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from features.images.preprocessing import Preprocessing
from features.networks.extractor import Extractor

from ..artifacts.feature_source import FeatureSource
from ..artifacts.image_inputs import ImageInputs
from ..exceptions import PipelineError
from ..params import check_value
from .modules import SoftmaxOfLogits, pixel_normalizer

META_FILE = "head.json"


def validated_fit(fit):
    """A head's `fit`, its params checked first (as scikit-learn's `_fit_context` does), so a
    head built by hand with a bad value stops with the same message as a bad params.yaml."""

    @functools.wraps(fit)
    def checked(self, X, y, *args, **kwargs):
        self.check_params()
        return fit(self, X, y, *args, **kwargs)

    return checked


class Head(ClassifierMixin, BaseEstimator):
    """A classifier; subclass `EmbeddingHead` or `ImageHead`, which say what it reads.

    Subclasses store their params in `__init__` and nothing else (each annotated with its
    type), learn state ending in `_` in a `fit` decorated with `validated_fit`, and implement
    `predict_proba`, `_save_state` and `_load_state`. `rules` declares allowed values and
    bounds, as params.yaml blocks do.
    """

    name: ClassVar[str]
    # Params the stages fill from the backbone and embed blocks unless the head's own
    # block sets them (so the fine-tuned network starts from the embedding network).
    shared_params: ClassVar[tuple[str, ...]] = ()
    rules: ClassVar[dict[str, dict]] = {}  # param -> pipeline.params.rule(...)

    @classmethod
    def from_params(cls, params: dict, prefix: str = "") -> Head:
        """A head built from params as params.yaml or head.json write them, each checked against
        its type and `rules` and normalised (YAML and JSON lists become tuples) before it is
        built: a bad value stops the stage before any data is read, and `__init__` keeps the
        values it is given, as sklearn's estimators do. `fit` checks again (`validated_fit`)."""
        return cls(**cls(**params).checked_params(prefix))

    def check_params(self) -> None:
        """Raise ParamsError naming the first param outside its type or `rules`."""
        self.checked_params()

    def checked_params(self, prefix: str = "") -> dict:
        """Every param, checked and normalised (the params themselves are left as they are)."""
        prefix = prefix or f"heads.{self.name}"
        hints = typing.get_type_hints(type(self).__init__)
        return {
            key: check_value(value, hints[key], f"{prefix}.{key}", self.rules.get(key, {}))
            for key, value in self.get_params().items()
        }

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)  # first: it raises NotFittedError on an unfitted head
        return self.classes_[np.argmax(proba, axis=1)]

    def differentiable(self) -> nn.Module | None:
        """A torch module with this head's logits, for gradient attacks; None if it has none.

        Embedding heads map embeddings to logits; image heads map [0, 1] pixels to logits.
        """
        return None

    def probability_module(self) -> nn.Module | None:
        """This head's inputs (embeddings; [0, 1] pixels for an image head) to class
        probabilities, as one frozen torch module: what an exported model runs. None where the
        head has no such form. Default: the softmax of `differentiable()`."""
        logits = self.differentiable()
        if logits is None:
            return None
        return nn.Sequential(logits, SoftmaxOfLogits(len(self.classes_))).eval().requires_grad_(False)

    def fit_report(self) -> dict:
        """JSON-ready facts about the fit (chosen lambda, epochs run, ...)."""
        return {}

    def rows_fitted(self, rows: int) -> int:
        """Of `rows` train rows handed to `fit`, how many it fits on (all, unless capped)."""
        return rows

    def chosen_in_fit(self) -> dict:
        """What `fit` itself chose on the validation rows (glmnet's lambda, the MLP's epoch)."""
        return {}

    # -- optional hooks: what a few heads can do, declared here with the default ----

    # k-NN scores every candidate of a search from one neighbour search (`validation_probas`).
    scores_candidates_together: ClassVar[bool] = False

    def validation_probas(self, combos: list[dict], X, y, X_val) -> Iterator[tuple]:
        """Every candidate's validation probabilities from work they share, as the search's
        trials; only where `scores_candidates_together`."""
        raise NotImplementedError(f"{self.name} fits its search's candidates one at a time")

    def projected_seconds(self, rows: int, classes: int, features: int) -> float | None:
        """A forecast of one fit's seconds on `rows` rows, to warn before a long search; None
        where the head cannot forecast (glmnet can)."""
        return None

    def history(self) -> list[dict]:
        """One row per epoch of the fit (torch heads); empty for the others."""
        return []

    def lr_finder_result(self) -> dict | None:
        """The learning-rate range test's curve and suggestion, where `fit` ran one."""
        return None

    def record_fit_vectors(self, X) -> str | None:
        """Store the vectors `fit` will read of the train rows `X` (the fine-tuned head's linear
        probe), so that `fit` only reads; the stage calls it before the search. What was done,
        in words; None where `fit` reads none."""
        return None

    # -- what differs by the kind of input ----------------------------------------

    def pick_inputs(self, vectors, images: ImageInputs):
        """Of a task's rows as vectors and as image files, what this head reads."""
        raise NotImplementedError

    def check_features(self, fingerprint: str) -> None:
        """Stop if this head would be fed vectors of another extractor than it was trained on."""

    def pixel_model(self, extractor: Extractor) -> tuple[nn.Module, Preprocessing] | None:
        """[0, 1] pixels to this head's logits, frozen, and the preprocessing that sizes its
        inputs; None for a head without a differentiable form."""
        raise NotImplementedError

    # -- persistence ----------------------------------------------------------------

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
        head = cls.from_params(meta["params"])  # JSON has no tuples; this restores them
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

    def _input_meta(self) -> dict:
        """More of head.json for heads that read their inputs themselves (preprocessing)."""
        return {}

    def _save_state(self, directory: Path) -> None:
        raise NotImplementedError

    def _load_state(self, directory: Path) -> None:
        raise NotImplementedError


class EmbeddingHead(Head):
    """A head on the extractor's vectors: fed from the feature store, never re-embedding."""

    def pick_inputs(self, vectors, images: ImageInputs):
        return vectors

    def check_features(self, fingerprint: str) -> None:
        trained = self.trained_features()
        if trained.fingerprint != fingerprint:
            raise PipelineError(
                f"head {self.name} was trained on features {trained.describe()}, but these are "
                f"{fingerprint}: retrain it on them (`dvc repro train@{self.name}`), or predict "
                "images through its own extractor (`workbench predict --head DIR IMAGES`)"
            )

    def pixel_model(self, extractor: Extractor) -> tuple[nn.Module, Preprocessing] | None:
        """The head on the extractor's network, with its normalisation in front."""
        module = self.differentiable()
        if module is None:
            return None
        prep = extractor.backbone.preprocessing
        model = nn.Sequential(pixel_normalizer(prep), extractor.model, module)
        return model.to(extractor.device).eval().requires_grad_(False), prep  # gradients for inputs only


class ImageHead(Head):
    """A head that reads the image files itself, with its own network and preprocessing."""

    def pick_inputs(self, vectors, images: ImageInputs):
        return images

    def pixel_model(self, extractor: Extractor) -> tuple[nn.Module, Preprocessing] | None:
        """Its own network, on the extractor's device (which only places it)."""
        module = self.differentiable()
        if module is None:
            return None
        return module.to(extractor.device).requires_grad_(False), self.preprocessing_


def read_meta(directory: Path) -> dict:
    path = Path(directory) / META_FILE
    if not path.is_file():
        raise PipelineError(f"no fitted head in {directory} ({META_FILE} not found): run `dvc repro` first")
    return json.loads(path.read_text())


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
