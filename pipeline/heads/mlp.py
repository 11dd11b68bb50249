"""MLP head: dense layers with ReLU and dropout on the embeddings, early-stopped on validation loss."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from torch import nn

from ..params import rule
from .base import EmbeddingHead, validated_fit
from .holdout import hold_out
from .modules import Affine
from .optimizers import OPTIMIZERS, make_optimizer
from .training import EarlyStopping, EpochLog, Step, Validation, fit_loop, seeded

log = logging.getLogger(__name__)


class MLPHead(EmbeddingHead):
    """2048 -> hidden... -> classes, ReLU and dropout between layers.

    Defaults follow the reference (256-256, dropout 0.5, RMSprop at lr 5e-4); training
    stops when validation loss has not improved for `patience` epochs and the weights of
    the best epoch are restored. Without an `eval_set`, `validation_fraction` of the
    training rows (stratified) is held out for that.
    """

    name = "mlp"
    rules = {
        "hidden_sizes": rule(min=1),
        "dropout": rule(min=0.0, max=0.95),
        "optimizer": rule(choices=OPTIMIZERS),
        "lr": rule(gt=0.0),
        "epochs": rule(min=1),
        "batch_size": rule(min=1),
        "weight_decay": rule(min=0.0),
        "patience": rule(min=1),
        "validation_fraction": rule(min=0.0, max=0.5),
    }

    def __init__(
        self,
        hidden_sizes: tuple[int, ...] = (256, 256),
        dropout: float = 0.5,
        optimizer: str = "rmsprop",
        lr: float = 5e-4,
        epochs: int = 50,
        batch_size: int = 32,
        weight_decay: float = 0.0,
        standardize: bool = True,
        patience: int = 5,
        validation_fraction: float = 0.1,
        seed: int = 0,
        verbose: bool = False,
    ):
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.standardize = standardize
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.verbose = verbose

    @validated_fit
    def fit(self, X, y, eval_set=None):
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        self.classes_ = unique_labels(y)
        y_index = np.searchsorted(self.classes_, y)
        if eval_set is not None:
            X_val = check_array(eval_set[0], dtype=np.float32)
            y_val = np.searchsorted(self.classes_, eval_set[1])
        else:  # with too few rows to hold any out, every epoch runs: no early stopping
            X, y_index, X_val, y_val = hold_out(X, y_index, self.validation_fraction, self.seed)
        with seeded(self.seed):
            self._train(X, y_index, X_val, y_val)
        return self

    def _train(self, X, y_index, X_val, y_val) -> None:
        self.mean_ = X.mean(axis=0) if self.standardize else np.zeros(X.shape[1], np.float32)
        self.scale_ = (X.std(axis=0) + 1e-6) if self.standardize else np.ones(X.shape[1], np.float32)
        generator = torch.Generator().manual_seed(self.seed)
        self.model_ = self._build(X.shape[1], len(self.classes_))
        optimizer = make_optimizer(
            self.optimizer, self.model_.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        loss_fn = nn.CrossEntropyLoss()
        Xt, yt = self._tensor(X), torch.from_numpy(y_index).long()

        def batches():
            order = torch.randperm(len(Xt), generator=generator)
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                yield Xt[idx], yt[idx]

        def step(batch) -> Step:
            inputs, targets = batch
            logits = self.model_(inputs)
            return Step(loss_fn(logits, targets), logits, targets)

        stopping = EarlyStopping(self.patience)
        callbacks = [] if X_val is None else [Validation(lambda: self._evaluate(X_val, y_val, loss_fn))]
        callbacks += [stopping] + ([EpochLog(log, "mlp")] if self.verbose else [])
        loop = fit_loop(self.model_, optimizer, batches, step, epochs=self.epochs, callbacks=callbacks)
        self.history_, self.best_epoch_ = loop.history, stopping.best_epoch

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        with torch.inference_mode():
            return torch.softmax(self.model_(self._tensor(X)).double(), dim=1).numpy()

    def differentiable(self) -> nn.Module:
        check_is_fitted(self, "model_")
        mean, scale = torch.as_tensor(self.mean_), torch.as_tensor(self.scale_)
        return nn.Sequential(Affine(1 / scale, -mean / scale), self.model_).eval()

    def history(self) -> list[dict]:
        return self.history_

    def fit_report(self) -> dict:
        return {"epochs_run": len(self.history_), "best_epoch": self.best_epoch_}

    def chosen_in_fit(self) -> dict:
        return {"epoch": self.best_epoch_}

    def _build(self, n_in: int, n_out: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        for width in self.hidden_sizes:
            layers += [nn.Linear(n_in, width), nn.ReLU(), nn.Dropout(self.dropout)]
            n_in = width
        layers.append(nn.Linear(n_in, n_out))
        return nn.Sequential(*layers)

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((X - self.mean_) / self.scale_).astype(np.float32))

    def _evaluate(self, X, y, loss_fn) -> tuple[float, float]:
        self.model_.eval()
        with torch.inference_mode():
            logits = self.model_(self._tensor(X))
            loss = loss_fn(logits, torch.from_numpy(y).long()).item()
            accuracy = (logits.argmax(1).numpy() == y).mean()
        return loss, float(accuracy)

    def _save_state(self, directory: Path) -> None:
        torch.save(self.model_.state_dict(), directory / "weights.pt")
        np.savez(directory / "state.npz", mean=self.mean_, scale=self.scale_)

    def _load_state(self, directory: Path) -> None:
        state = np.load(directory / "state.npz")
        self.mean_, self.scale_ = state["mean"], state["scale"]
        self.n_features_in_ = len(self.mean_)
        self.model_ = self._build(self.n_features_in_, len(self.classes_))
        self.model_.load_state_dict(torch.load(directory / "weights.pt", weights_only=True))
        self.model_.eval()
