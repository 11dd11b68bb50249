"""The head interface: scikit-learn estimator conventions plus save/load to a folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from ..exceptions import ParamsError

META_FILE = "head.json"


class Head(ClassifierMixin, BaseEstimator):
    """A classifier on embeddings (or, for `input_kind == "images"`, on image paths).

    Subclasses store their params in `__init__` and nothing else, learn state ending in
    `_` in `fit`, and implement `predict_proba`, `_save_state` and `_load_state`.
    """

    name: ClassVar[str]
    input_kind: ClassVar[str] = "embeddings"
    # Params the stages fill from the backbone and embed blocks unless the head's own
    # block sets them (so the fine-tuned network starts from the embedding network).
    shared_params: ClassVar[tuple[str, ...]] = ()

    def validate_params(self, prefix: str = "") -> None:
        """Check every param against its default's type, then the head's own rules.

        Called by the stages right after construction, so a bad value stops the stage
        before any data is read (scikit-learn itself would wait until `fit`).
        """
        prefix = prefix or f"heads.{self.name}"
        defaults = type(self)().get_params()
        for key, value in self.get_params().items():
            expected = defaults[key]
            if expected is None:  # free-form (e.g. an optional path)
                continue
            if not _same_kind(value, expected):
                raise ParamsError(
                    f"{prefix}.{key}: got {value!r} ({type(value).__name__}); "
                    f"expected {type(expected).__name__} like the default {expected!r}"
                )
        self._check_params(prefix)

    def _check_params(self, prefix: str) -> None:
        """Head-specific checks (choices, ranges); raise ParamsError."""

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

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "name": self.name,
            "params": self.get_params(),
            "classes": self.classes_.tolist(),
            "fit_report": self.fit_report(),
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, default=_jsonable))
        self._save_state(directory)

    @classmethod
    def load(cls, directory: str | Path) -> Head:
        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text())
        defaults = cls().get_params()
        params = {  # JSON has no tuples; give back the type the default has
            k: tuple(v) if isinstance(defaults.get(k), tuple) and isinstance(v, list) else v
            for k, v in meta["params"].items()
        }
        head = cls(**params)
        head.classes_ = np.array(meta["classes"])
        head._load_state(directory)
        return head

    def _save_state(self, directory: Path) -> None:
        raise NotImplementedError

    def _load_state(self, directory: Path) -> None:
        raise NotImplementedError


class Affine(nn.Module):
    """x * scale + shift, per feature (standardisation inside a differentiable head)."""

    def __init__(self, scale, shift):
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


def pixel_normalizer(prep) -> Affine:
    """[0, 1] pixels to the network's normalised input, as a layer gradients flow through."""
    mean = torch.tensor(prep.mean).view(1, 3, 1, 1)
    std = torch.tensor(prep.std).view(1, 3, 1, 1)
    return Affine(1 / std, -mean / std)


def linear_module(coef: np.ndarray, intercept: np.ndarray) -> nn.Linear:
    """A frozen torch Linear computing X @ coef.T + intercept."""
    layer = nn.Linear(coef.shape[1], coef.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(coef, dtype=torch.float32))
        layer.bias.copy_(torch.as_tensor(intercept, dtype=torch.float32))
    return layer.eval().requires_grad_(False)


def check_choice(prefix: str, key: str, value, allowed) -> None:
    if value not in allowed:
        raise ParamsError(f"{prefix}.{key}: got {value!r}; choose from {list(allowed)}")


def check_range(prefix: str, key: str, value, low=None, high=None) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ParamsError(f"{prefix}.{key}: got {value!r}; must be {bounds}")


def _same_kind(value, expected) -> bool:
    if isinstance(expected, bool):
        return isinstance(value, bool)
    if isinstance(expected, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(expected, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(expected, tuple | list):
        return isinstance(value, tuple | list) and all(_same_kind(v, expected[0]) for v in value)
    return isinstance(value, type(expected))


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
