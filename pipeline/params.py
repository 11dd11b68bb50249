"""params.yaml: one dataclass per block, validated at load with messages that name the fix.

A block is a frozen dataclass. Field metadata adds `choices`, `min` and `max`; nested
dataclasses are nested blocks. `read_block("embed", EmbedParams)` returns a validated
instance or raises ParamsError naming the key, the value and what is allowed.
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


def spec(default: Any = dataclasses.MISSING, *, choices=None, min=None, max=None, **kw):
    """A dataclass field with validation metadata (`min`/`max` are inclusive)."""
    meta = {"choices": choices, "min": min, "max": max}
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


def read_block(name: str, cls: type[T], path: str | Path = DEFAULT_PARAMS) -> T:
    """Load params.yaml and validate block `name` as `cls`."""
    raw = load_params(path)
    if name not in raw:
        raise ParamsError(f"params.yaml has no '{name}' block; blocks present: {sorted(raw)}")
    return parse(cls, raw[name], name)


def parse(cls: type[T], raw: Any, prefix: str) -> T:
    """Validate a mapping against the dataclass `cls`; `prefix` names it in messages."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{prefix}: expected a mapping of keys, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ParamsError(f"{prefix}.{key}: unknown key{hint}; '{prefix}' takes {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, field in fields.items():
        key = f"{prefix}.{name}"
        if name not in raw:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ParamsError(f"{key}: missing; add it to params.yaml")
            continue
        values[name] = _check(raw[name], hints[name], key, field.metadata)
    try:
        return cls(**values)
    except ParamsError:
        raise
    except (TypeError, ValueError) as exc:
        raise ParamsError(f"{prefix}: {exc}") from exc


def _check(value: Any, hint: Any, key: str, meta: typing.Mapping) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _check(value, inner, key, meta)
    if dataclasses.is_dataclass(hint):
        return parse(hint, value, key)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ParamsError(f"{key}: expected a list, got {value!r}")
        items = [_check(v, args[0], f"{key}[{i}]", meta) for i, v in enumerate(value)]
        return origin(items)
    value = _check_type(value, hint, key)
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ParamsError(f"{key}: got {value!r}; choose from {list(choices)}")
    low, high = meta.get("min"), meta.get("max")
    if low is not None and value < low or high is not None and value > high:
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ParamsError(f"{key}: got {value!r}; must be {bounds}")
    return value


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
