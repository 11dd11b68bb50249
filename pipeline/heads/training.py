"""The one training loop of the torch heads, and the callbacks that watch it (as skorch and fastai do).

`fit_loop` runs epochs of batches: a head's `step(batch)` computes the loss, the loop takes
the optimizer step, and callbacks are told of every event. Validation, early stopping with
the best state restored, throughput, progress and the learning-rate range test are
callbacks, so every torch head trains, stops and reports alike.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm


@dataclass
class Step:
    """What a head's step gives for one batch."""

    loss: torch.Tensor  # the batch's mean loss, with its graph
    logits: torch.Tensor
    targets: torch.Tensor


@dataclass
class Loop:
    """The state callbacks see and may change (`stop`, the optimizer's learning rates)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    epoch: int = 0
    batch: int = 0  # batches stepped since the fit began
    seen: int = 0  # examples trained on in this epoch
    loss_sum: float = 0.0  # their summed loss
    correct: int = 0
    record: dict = field(default_factory=dict)  # this epoch's, filled by the loop and callbacks
    history: list[dict] = field(default_factory=list)  # one record per epoch
    stop: bool = False  # set by a callback: leave after this batch or epoch

    @property
    def train_loss(self) -> float:
        return self.loss_sum / max(1, self.seen)


class Callback:
    """Hooks into `fit_loop`; each does nothing unless overridden."""

    def on_fit_begin(self, loop: Loop) -> None: ...
    def on_epoch_begin(self, loop: Loop) -> None: ...
    def on_batch_begin(self, loop: Loop) -> None: ...
    def on_batch_end(self, loop: Loop, step: Step) -> None: ...
    def on_epoch_end(self, loop: Loop) -> None: ...
    def on_fit_end(self, loop: Loop) -> None: ...


def fit_loop(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Callable[[], Iterable[Any]],
    step: Callable[[Any], Step],
    *,
    epochs: int,
    callbacks: Sequence[Callback] = (),
    scheduler: Any = None,
    train_mode: Callable[[], None] | None = None,
) -> Loop:
    """Up to `epochs` passes over `batches()`; callbacks in the order given. Leaves the model
    in eval mode. `train_mode` sets the model training at each epoch (default `model.train`)."""
    loop = Loop(model, optimizer)

    def notify(event: str, *args) -> None:
        for callback in callbacks:
            getattr(callback, event)(loop, *args)

    notify("on_fit_begin")
    for epoch in range(1, epochs + 1):
        loop.epoch, loop.seen, loop.loss_sum, loop.correct = epoch, 0, 0.0, 0
        (train_mode or model.train)()
        notify("on_epoch_begin")
        for batch in batches():
            notify("on_batch_begin")
            out = step(batch)
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            n = len(out.targets)
            loop.batch += 1
            loop.seen += n
            loop.loss_sum += out.loss.item() * n
            loop.correct += (out.logits.argmax(1) == out.targets).sum().item()
            notify("on_batch_end", out)
            if loop.stop:
                break
        loop.record = {
            "epoch": epoch,
            "train_loss": loop.train_loss,
            "train_accuracy": loop.correct / max(1, loop.seen),
        }
        notify("on_epoch_end")
        loop.history.append(loop.record)
        if loop.stop:
            break
    notify("on_fit_end")
    model.eval()
    return loop


class Validation(Callback):
    """Adds valid_loss and valid_accuracy to each epoch's record; `score()` -> (loss, accuracy)."""

    def __init__(self, score: Callable[[], tuple[float, float]]):
        self.score = score

    def on_epoch_end(self, loop: Loop) -> None:
        loss, accuracy = self.score()
        loop.record.update(valid_loss=loss, valid_accuracy=accuracy)


class EarlyStopping(Callback):
    """Stop after `patience` epochs without a lower valid_loss; restore that epoch's weights.

    Without validation records it never stops, and the last weights are kept. After the fit,
    `best_epoch` is the epoch whose weights the model holds.
    """

    def __init__(self, patience: int, min_delta: float = 1e-6):
        self.patience, self.min_delta = patience, min_delta

    def on_fit_begin(self, loop: Loop) -> None:
        self.best_loss, self.best_state, self.best_epoch, self.stale = math.inf, None, 0, 0

    def on_epoch_end(self, loop: Loop) -> None:
        loss = loop.record.get("valid_loss")
        if loss is None:
            self.best_epoch = loop.epoch
            return
        if loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.stale = loss, loop.epoch, 0
            self.best_state = copy.deepcopy(loop.model.state_dict())
        else:
            self.stale += 1
        loop.stop = loop.stop or self.stale >= self.patience

    def on_fit_end(self, loop: Loop) -> None:
        if self.best_state is not None:
            loop.model.load_state_dict(self.best_state)


class Throughput(Callback):
    """`<unit>_per_second` in each record: examples trained on per second, validation included."""

    def __init__(self, unit: str):
        self.unit = unit

    def on_epoch_begin(self, loop: Loop) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, loop: Loop) -> None:
        loop.record[f"{self.unit}_per_second"] = loop.seen / (time.perf_counter() - self.start)


class EpochLog(Callback):
    """One log line per epoch: the record's values."""

    def __init__(self, log: logging.Logger, prefix: str):
        self.log, self.prefix = log, prefix

    def on_epoch_end(self, loop: Loop) -> None:
        self.log.info("%s %s", self.prefix, " ".join(f"{k}={v:.4g}" for k, v in loop.record.items()))


class ProgressBar(Callback):
    """A bar per epoch: examples per second and the running train loss."""

    def __init__(self, total: int, desc: str, unit: str = "img"):
        self.total, self.desc, self.unit = total, desc, unit

    def on_epoch_begin(self, loop: Loop) -> None:
        self.bar = tqdm(total=self.total, unit=self.unit, desc=self.desc, leave=False)

    def on_batch_end(self, loop: Loop, step: Step) -> None:
        self.bar.update(len(step.targets))
        self.bar.set_postfix(loss=f"{loop.train_loss:.3f}")

    def on_epoch_end(self, loop: Loop) -> None:
        self.bar.close()


class LRFinder(Callback):
    """Leslie Smith's range test: raise the learning rate exponentially from `low` to `high`
    over `steps` batches, watch the smoothed loss, stop once it diverges, then put the weights
    back. `result` holds the rates, the losses and the usual pick: a tenth of the rate at the
    loss minimum."""

    def __init__(self, low: float = 1e-5, high: float = 1.0, steps: int = 60):
        self.low, self.steps = low, steps
        self.factor = (high / low) ** (1 / max(1, steps - 1))

    def on_fit_begin(self, loop: Loop) -> None:
        self.saved = copy.deepcopy(loop.model.state_dict())
        self.lrs, self.losses, self.smooth = [], [], None

    def on_batch_begin(self, loop: Loop) -> None:
        self.lr = self.low * self.factor**loop.batch
        for group in loop.optimizer.param_groups:
            group["lr"] = self.lr

    def on_batch_end(self, loop: Loop, step: Step) -> None:
        loss = step.loss.item()
        self.smooth = loss if self.smooth is None else 0.9 * self.smooth + 0.1 * loss
        self.lrs.append(self.lr)
        self.losses.append(self.smooth)
        diverged = not math.isfinite(self.smooth) or self.smooth > 4 * min(self.losses)
        loop.stop = diverged or len(self.lrs) >= self.steps

    def on_fit_end(self, loop: Loop) -> None:
        loop.model.load_state_dict(self.saved)

    @property
    def result(self) -> dict:
        suggested = self.lrs[int(np.argmin(self.losses))] / 10
        return {"lrs": self.lrs, "losses": self.losses, "suggested": float(suggested)}


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Everything random inside (init, shuffling, dropout, augmentation) depends on `seed`
    alone, and the caller's global RNG state is left as it was."""
    devices = [device] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
