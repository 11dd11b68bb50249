"""The head registry: a name to its class; stages make a new head with `make_head` (or
`head_from_params`, which adds the backbone settings it shares) and load a fitted one with
`load_head` or `head_class(name).load`.

It imports a head's module (`pipeline/heads/<name>.py`) only when that head is
asked for, so `train@mlp` neither runs nor depends on the fine-tuning code.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..embedding.params import BackboneParams, EmbedParams
from ..exceptions import ParamsError
from ..params import Params, check_keys
from .base import Head, read_meta
from .names import HEAD_NAMES
from .search import check_space

SEARCH_KEY = "search"  # in a head's block: param -> values to choose among on the valid split


class _Registry(Mapping):
    """Head name -> the Head subclass of that `name` in pipeline/heads/<name>.py, imported on first use."""

    def __getitem__(self, name: str) -> type[Head]:
        if name not in HEAD_NAMES:
            raise KeyError(name)
        module = importlib.import_module(f"{__package__}.{name}")
        (cls,) = [
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, Head) and getattr(v, "name", None) == name
        ]
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(HEAD_NAMES)

    def __len__(self) -> int:
        return len(HEAD_NAMES)


HEADS: Mapping[str, type[Head]] = _Registry()


def head_class(name: str) -> type[Head]:
    if name not in HEAD_NAMES:
        raise ParamsError(f"heads: got {name!r}; choose from {sorted(HEAD_NAMES)}")
    return HEADS[name]


def make_head(name: str, **params) -> Head:
    """A validated, unfitted head; unknown names or keys fail naming the valid ones."""
    cls = head_class(name)
    check_keys(params, cls().get_params(), f"heads.{name}")
    return cls.from_params(params)


def head_from_params(name: str, params: Params) -> Head:
    """The head with its `heads.<name>` block, plus the backbone/embed settings it shares."""
    cls = head_class(name)
    backbone, embed = params.block("backbone", BackboneParams), params.block("embed", EmbedParams)
    shared = {
        "arch": backbone.arch,
        "weights": backbone.weights,
        "store": embed.store,
        "device": embed.device,
        "precision": embed.precision,
    }
    inherited = {key: shared[key] for key in cls.shared_params}
    block = {k: v for k, v in params.mapping(f"heads.{name}").items() if k != SEARCH_KEY}
    return make_head(name, **{**inherited, **block})


def search_space(name: str, params: Params, head: Head) -> dict[str, tuple]:
    """`heads.<name>.search`, checked against `head` (from head_from_params); {} when absent."""
    block = params.mapping(f"heads.{name}")
    return check_space(head, block.get(SEARCH_KEY) or {}, f"heads.{name}.{SEARCH_KEY}", block)


def load_heads(names: list[str], template: str) -> dict[str, Head]:
    """Fitted heads from their folders (`template` holds `{head}`)."""
    return {name: head_class(name).load(template.format(head=name)) for name in names}


def load_head(directory: str | Path) -> Head:
    """Whichever head `directory` holds (its head.json names it)."""
    return head_class(read_meta(Path(directory))["name"]).load(directory)
