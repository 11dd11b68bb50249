"""The one training loop and its callbacks, on a tiny linear model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pipeline.heads.optimizers import make_optimizer
from pipeline.heads.training import (
    Callback,
    EarlyStopping,
    LRFinder,
    Step,
    Throughput,
    Validation,
    fit_loop,
    seeded,
)


@pytest.fixture
def problem():
    with seeded(0):
        X = torch.randn(64, 5)
        y = (X[:, 0] > 0).long()
        model = nn.Linear(5, 2)
    loss_fn = nn.CrossEntropyLoss()

    def batches():
        for start in range(0, 64, 16):
            yield X[start : start + 16], y[start : start + 16]

    def step(batch) -> Step:
        inputs, targets = batch
        logits = model(inputs)
        return Step(loss_fn(logits, targets), logits, targets)

    return model, batches, step


class Events(Callback):
    def __init__(self):
        self.seen = []

    def on_fit_begin(self, loop):
        self.seen.append("fit")

    def on_epoch_begin(self, loop):
        self.seen.append(f"epoch {loop.epoch}")

    def on_batch_end(self, loop, step):
        self.seen.append("batch")

    def on_fit_end(self, loop):
        self.seen.append("end")


def test_the_loop_steps_every_batch_and_tells_every_event(problem):
    model, batches, step = problem
    events = Events()
    before = model.weight.detach().clone()
    loop = fit_loop(model, make_optimizer("sgd", model.parameters(), lr=0.1), batches, step, epochs=2,
                    callbacks=[events, Throughput("rows")])  # fmt: skip
    assert events.seen == ["fit", "epoch 1", *["batch"] * 4, "epoch 2", *["batch"] * 4, "end"]
    assert [r["epoch"] for r in loop.history] == [1, 2] and loop.batch == 8
    assert loop.history[1]["train_loss"] < loop.history[0]["train_loss"]
    assert loop.history[0]["rows_per_second"] > 0
    assert not torch.equal(model.weight, before) and not model.training


def test_early_stopping_restores_the_best_epochs_weights(problem):
    model, batches, step = problem
    losses = iter([0.9, 0.5, 0.7, 0.8, 0.6, 0.1])  # best at epoch 2, then 2 epochs without a better one

    class Snapshot(Callback):
        def on_epoch_end(self, loop):
            self.__dict__.setdefault("states", {})[loop.epoch] = model.weight.detach().clone()

    snapshot, stopping = Snapshot(), EarlyStopping(patience=2)
    loop = fit_loop(model, make_optimizer("sgd", model.parameters(), lr=0.5), batches, step, epochs=6,
                    callbacks=[Validation(lambda: (next(losses), 0.0)), stopping, snapshot])  # fmt: skip
    assert len(loop.history) == 4 and stopping.best_epoch == 2
    assert torch.equal(model.weight, snapshot.states[2])


def test_the_lr_range_test_is_a_callback_that_leaves_the_weights_as_they_were(problem):
    model, batches, step = problem
    before = {k: v.clone() for k, v in model.state_dict().items()}
    finder = LRFinder(low=1e-4, high=10.0, steps=20)
    optimizer = make_optimizer("sgd", model.parameters(), lr=1e-4)
    loop = fit_loop(model, optimizer, batches, step, epochs=finder.steps, callbacks=[finder])
    result = finder.result
    assert 1 < len(result["lrs"]) <= 20 and loop.batch == len(result["lrs"])
    assert np.all(np.diff(result["lrs"]) > 0) and 1e-5 <= result["suggested"] <= 1.0
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_seeded_leaves_the_callers_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with seeded(0):
        inside = torch.rand(3)
    with seeded(0):
        assert torch.equal(torch.rand(3), inside)
    assert torch.equal(torch.rand(3), expected)


def test_one_optimizer_factory_for_every_head():
    params = [nn.Parameter(torch.zeros(2))]
    assert isinstance(make_optimizer("rmsprop", params, lr=0.1), torch.optim.RMSprop)
    sgd = make_optimizer("sgd", [{"params": params, "lr": 0.3, "weight_decay": 0.0}])
    assert sgd.param_groups[0]["lr"] == 0.3 and sgd.param_groups[0]["nesterov"]
    with pytest.raises(ValueError, match="choose from"):
        make_optimizer("lbfgs", params)
