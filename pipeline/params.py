"""params.yaml: one dataclass per block, validated at load with messages that name the fix.

A block is a frozen dataclass. Field metadata adds `choices` and bounds (`min`/`max`
inclusive, `gt`/`lt` exclusive); nested dataclasses are nested blocks. `Params.load()`
reads the file once; `params.block("embed", EmbedParams)` returns a validated instance or
raises ParamsError naming the key, the value and what is allowed. Heads check their
constructor params with the same `check_value`.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .exceptions import ParamsError

DEFAULT_PARAMS = Path("params.yaml")
T = TypeVar("T")


def rule(*, choices=None, min=None, max=None, gt=None, lt=None) -> dict:
    """Validation metadata: allowed values, or bounds (applied to each list item): `min` and
    `max` inclusive, `gt` and `lt` exclusive (C > 0 is `gt=0`)."""
    return {"choices": choices, "min": min, "max": max, "gt": gt, "lt": lt}


def param(default: Any = dataclasses.MISSING, *, choices=None, min=None, max=None, gt=None, lt=None, **kw):
    """A dataclass field with validation metadata (see `rule`)."""
    meta = rule(choices=choices, min=min, max=max, gt=gt, lt=lt)
    if isinstance(default, list | dict):  # mutable defaults need a factory
        return dataclasses.field(default_factory=lambda: default.copy(), metadata=meta, **kw)
    return dataclasses.field(default=default, metadata=meta, **kw)


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path} not found: run stages from the project root")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ParamsError(f"{path} must be a mapping of blocks, got {type(raw).__name__}")
    return raw


class Params:
    """params.yaml read once; blocks validated on request."""

    def __init__(self, raw: dict):
        self.raw = raw

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PARAMS) -> Params:
        return cls(load_params(path))

    def block(self, name: str, cls: type[T]) -> T:
        if name not in self.raw:
            raise ParamsError(f"params.yaml has no '{name}' block; blocks present: {sorted(self.raw)}")
        return parse(cls, self.raw[name], name)

    def mapping(self, key: str) -> dict:
        """A free-form sub-mapping such as `heads` or `heads.mlp` ({} when absent)."""
        value: Any = self.raw
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ParamsError(f"{key}: expected a mapping of keys, got {value!r}")
        return value


def read_block(name: str, cls: type[T], path: str | Path = DEFAULT_PARAMS) -> T:
    """Load params.yaml and validate block `name` as `cls`."""
    return Params.load(path).block(name, cls)


def check_keys(given, allowed, prefix: str) -> None:
    """Unknown keys stop with the closest allowed one suggested."""
    for key in given:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), list(allowed), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ParamsError(
                f"{prefix}.{key}: unknown key{hint}; '{prefix.split('.')[-1]}' takes {sorted(allowed)}"
            )


def parse(cls: type[T], raw: Any, prefix: str) -> T:
    """Validate a mapping against the dataclass `cls`; `prefix` names it in messages."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{prefix}: expected a mapping of keys, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    check_keys(raw, fields, prefix)
    hints = typing.get_type_hints(cls)
    values = {}
    for name, field in fields.items():
        key = f"{prefix}.{name}"
        if name not in raw:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ParamsError(f"{key}: missing; add it to params.yaml")
            continue
        values[name] = check_value(raw[name], hints[name], key, field.metadata)
    try:
        return cls(**values)
    except ParamsError:
        raise
    except (TypeError, ValueError) as exc:
        raise ParamsError(f"{prefix}: {exc}") from exc


def check_value(value: Any, hint: Any, key: str, meta: typing.Mapping) -> Any:
    """`value` checked against the type `hint` and `meta`'s rule; ints become floats where asked."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return check_value(value, inner, key, meta)
    if dataclasses.is_dataclass(hint):
        return parse(hint, value, key)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ParamsError(f"{key}: expected a list, got {value!r}")
        items = [check_value(v, args[0], f"{key}[{i}]", meta) for i, v in enumerate(value)]
        return origin(items)
    given, value = value, _check_type(value, hint, key)
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ParamsError(f"{key}: got {given!r}; choose from {list(choices)}")
    if not _within(value, meta):
        raise ParamsError(f"{key}: got {given!r}; must be {_bounds(meta)}")
    return value


def _within(value: Any, meta: typing.Mapping) -> bool:
    low, high, above, below = (meta.get(k) for k in ("min", "max", "gt", "lt"))
    return not (
        (low is not None and value < low)
        or (high is not None and value > high)
        or (above is not None and value <= above)
        or (below is not None and value >= below)
    )


def _bounds(meta: typing.Mapping) -> str:
    """The allowed range in words: 'between 0 and 1', 'above 0', 'at least 1 and below 2'."""
    low, high, above, below = (meta.get(k) for k in ("min", "max", "gt", "lt"))
    if low is not None and high is not None:
        return f"between {low} and {high}"
    lower = f"at least {low}" if low is not None else f"above {above}" if above is not None else None
    upper = f"at most {high}" if high is not None else f"below {below}" if below is not None else None
    return " and ".join(part for part in (lower, upper) if part)


def _check_type(value: Any, hint: Any, key: str) -> Any:
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint in (str, bool) and isinstance(value, hint):
        return value
    if hint is Any:
        return value
    if hint not in (int, float, str, bool):
        raise TypeError(f"unsupported params type {hint!r} for {key}")
    raise ParamsError(f"{key}: got {value!r} ({type(value).__name__}); expected {hint.__name__}")
