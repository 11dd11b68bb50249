"""Typed analysis results that round-trip through JSON: the stage writes them, plots and report read them."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T", bound="Result")


class Result:
    """Mixin for dataclasses: `to_json()` gives plain JSON values, `from_json()` rebuilds the types."""

    def to_json(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls: type[T], data: dict) -> T:
        hints = typing.get_type_hints(cls)
        # a field the JSON lacks (written before the field existed) keeps its default
        fields = [f for f in dataclasses.fields(cls) if f.name in data]
        return cls(**{f.name: _typed(data[f.name], hints[f.name]) for f in fields})

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2))

    @classmethod
    def read(cls: type[T], path: Path) -> T:
        return cls.from_json(json.loads(Path(path).read_text()))


def _plain(value: Any) -> Any:
    if isinstance(value, Result):
        return value.to_json()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _typed(value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        return _typed(value, hint)
    if isinstance(hint, type) and issubclass(hint, Result):
        return hint.from_json(value)
    if origin is dict:
        return {k: _typed(v, args[1]) for k, v in value.items()}
    if origin is list:
        return [_typed(v, args[0]) for v in value]
    if origin is tuple:
        return tuple(value)
    return value
