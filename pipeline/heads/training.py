"""The one training loop of the torch heads: epochs, early stopping with the best state, history."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

# One epoch of training: returns train_loss, train_accuracy and `seen` (examples trained on).
EpochFn = Callable[[], dict]
# Validation: (loss, accuracy) on the held-out rows, the model in eval mode.
ValidateFn = Callable[[], tuple[float, float]]


@dataclass
class TrainingResult:
    history: list[dict]  # one record per epoch, as written to history.csv
    best_epoch: int  # the epoch whose weights the model holds at the end


def train_epochs(
    model: nn.Module,
    run_epoch: EpochFn,
    validate: ValidateFn | None,
    *,
    epochs: int,
    patience: int,
    unit: str | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Run up to `epochs` epochs; stop after `patience` epochs without a better validation loss.

    The weights of the epoch with the lowest validation loss are restored at the end
    (without `validate`, every epoch runs and the last weights are kept). With a `unit`,
    each record gets `<unit>_per_second`, training and validation of the epoch included.
    """
    history: list[dict] = []
    best_loss, best_state, stale = math.inf, None, 0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        trained = run_epoch()
        record = {
            "epoch": epoch,
            "train_loss": trained["train_loss"],
            "train_accuracy": trained["train_accuracy"],
        }
        if validate is not None:
            loss, accuracy = validate()
            record.update(valid_loss=loss, valid_accuracy=accuracy)
            if loss < best_loss - 1e-6:
                best_loss, best_state, stale = loss, copy.deepcopy(model.state_dict()), 0
            else:
                stale += 1
        if unit is not None:
            record[f"{unit}_per_second"] = trained["seen"] / (time.perf_counter() - start)
        history.append(record)
        if log is not None:
            log(" ".join(f"{k}={v:.4g}" for k, v in record.items()))
        if validate is not None and stale >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    best_epoch = min(history, key=lambda r: r["valid_loss"])["epoch"] if validate else len(history)
    model.eval()
    return TrainingResult(history, best_epoch)
