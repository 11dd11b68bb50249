"""The argparse block every stage shares: `--params`, the paths dvc.yaml passes, one parse."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path

from ..params import Params


def parse_stage(
    name: str,
    doc: str | None,
    argv: list[str] | None,
    *,
    head: bool = False,
    paths: Mapping[str, str] = {},
    templates: Mapping[str, str] = {},
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> tuple[Params, argparse.Namespace]:
    """params.yaml read once, and the stage's arguments: `paths` (flag -> help) are required
    paths, `templates` required path templates holding `{head}`; `head` takes the head's name
    first. `extra` adds anything else to the parser."""
    parser = argparse.ArgumentParser(prog=f"workbench {name}", description=doc)
    if head:
        parser.add_argument("head")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    for flag, text in paths.items():
        parser.add_argument(f"--{flag}", type=Path, required=True, help=text or None)
    for flag, text in templates.items():
        parser.add_argument(f"--{flag}", required=True, help=f"{text}: a path template with {{head}}")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    return Params.load(args.params), args
