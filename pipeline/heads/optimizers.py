"""The optimizers of the torch heads: one factory, and parameter groups (layer-wise learning
rates, no weight decay on norms and biases)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

OPTIMIZERS = ("rmsprop", "adam", "adamw", "sgd")  # sgd: momentum 0.9, Nesterov


def make_optimizer(name: str, params: Iterable, **defaults) -> torch.optim.Optimizer:
    """`name`'s optimizer over `params` (tensors, or groups carrying their own lr and weight
    decay); `defaults` (lr, weight_decay) apply where a group sets none."""
    if name == "rmsprop":
        return torch.optim.RMSprop(params, **defaults)
    if name == "adam":
        return torch.optim.Adam(params, **defaults)
    if name == "adamw":
        return torch.optim.AdamW(params, **defaults)
    if name == "sgd":
        return torch.optim.SGD(params, momentum=0.9, nesterov=True, **defaults)
    raise ValueError(f"optimizer: got {name!r}; choose from {list(OPTIMIZERS)}")


def param_groups(
    blocks: Sequence[tuple[str, Sequence[nn.Parameter]]],
    lr: float,
    weight_decay: float,
    frozen: Sequence[str] = (),
    layer_lr_decay: float = 1.0,
) -> list[dict]:
    """Groups for `torch.optim` from named blocks of parameters, ordered input to output.

    The last block trains at `lr`, each earlier one at `layer_lr_decay` times the next
    one's; blocks named in `frozen` get no group (the caller stops their gradients).
    Within a block, norm weights and biases (every parameter of one dimension) take no
    weight decay, as in timm: decaying them only shrinks scales and shifts the network
    is free to choose.
    """
    groups = []
    trainable = [(name, modules) for name, modules in blocks if name not in frozen]
    for depth, (name, params) in enumerate(reversed(trainable)):
        block_lr = lr * layer_lr_decay**depth
        decay = [p for p in params if p.ndim > 1]
        no_decay = [p for p in params if p.ndim <= 1]
        for suffix, members, wd in (("", decay, weight_decay), ("/no_decay", no_decay, 0.0)):
            if members:
                groups.append({"params": members, "lr": block_lr, "weight_decay": wd, "name": name + suffix})
    return groups
