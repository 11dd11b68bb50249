"""`python -m pipeline <stage> [args]`: run one stage; errors print as one clear message."""

from __future__ import annotations

import importlib
import sys

from features import FeaturesError

from .exceptions import PipelineError

STAGES = (
    "download",
    "prepare",
    "embed",
    "train",
    "evaluate",
    "compare",
    "pca",
    "robustness",
    "confusion",
    "report",
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in STAGES:
        got = repr(argv[0]) if argv else "nothing"
        print(
            f"usage: python -m pipeline <stage> [args]; got {got}; choose from {list(STAGES)}",
            file=sys.stderr,
        )
        return 2
    module = importlib.import_module(f".stages.{argv[0]}", __package__)
    try:
        module.main(argv[1:])
    except (PipelineError, FeaturesError) as exc:
        print(f"error in stage {argv[0]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
