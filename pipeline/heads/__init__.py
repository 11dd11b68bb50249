"""Interchangeable classifier heads; `make_head(name, **params)` is the only way stages get one."""

from __future__ import annotations

import difflib

from ..exceptions import ParamsError
from ..params import load_params
from .base import Head
from .finetune import FinetuneHead
from .glmnet import GlmnetHead
from .knn import KNNHead
from .logreg import LogRegHead
from .mlp import MLPHead

HEADS: dict[str, type[Head]] = {
    cls.name: cls for cls in (MLPHead, GlmnetHead, FinetuneHead, KNNHead, LogRegHead)
}


def head_class(name: str) -> type[Head]:
    if name not in HEADS:
        raise ParamsError(f"heads: got {name!r}; choose from {sorted(HEADS)}")
    return HEADS[name]


def make_head(name: str, **params) -> Head:
    """A validated, unfitted head; unknown names or keys fail naming the valid ones."""
    cls = head_class(name)
    known = cls().get_params()
    for key in params:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ParamsError(f"heads.{name}.{key}: unknown key{hint}; '{name}' takes {sorted(known)}")
    head = cls(**params)
    head.validate_params()
    return head


def enabled_heads(heads_block: dict) -> list[str]:
    """`heads.enabled`, checked: known names, each once, at least one."""
    enabled = heads_block.get("enabled")
    if not isinstance(enabled, list) or not enabled or not all(isinstance(h, str) for h in enabled):
        raise ParamsError(f"heads.enabled: got {enabled!r}; give a list of head names from {sorted(HEADS)}")
    for name in enabled:
        head_class(name)
    if len(set(enabled)) != len(enabled):
        raise ParamsError(f"heads.enabled: got {enabled}; list each head once")
    return enabled


def read_enabled_heads(params_path) -> list[str]:
    return enabled_heads(load_params(params_path).get("heads", {}))


__all__ = ["HEADS", "Head", "enabled_heads", "read_enabled_heads", "head_class", "make_head"]
