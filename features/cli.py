"""`python -m features <command>` (also `workbench <command>`): the store's commands, and the
one ladder every command of both CLIs ends through.

A command's module (features/commands/) is imported only when it is named, so the pipeline's
stages, which use `run_command`, never load the extraction engines, `verify` or the exporter.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from .exceptions import FeaturesError
from .store.space import NO_SPACE

if TYPE_CHECKING:
    from .images.listing import Listing
    from .store.base import Store

COMMANDS = {
    "extract": "embed image files and folders into a feature store",
    "info": "what a feature store holds",
    "verify": "check every segment, index and record of a store (--repair quarantines)",
    "export": "a store's vectors to .npz or .parquet",
    "compact": "merge a store's segments into one",
    "convert": "a version-1 store file into a store directory",
}


def main(argv: list[str] | None = None, prog: str = "python -m features") -> int:
    """Exit 0 on success, 1 on a failure (one line on stderr), 2 on a usage error, 130 on Ctrl-C."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        asked = argv[0] in ("-h", "--help") if argv else False
        width = max(map(len, COMMANDS))
        lines = [f"usage: {prog} <command> [args]   ({prog} <command> --help for its options)", ""]
        lines += [f"  {name:<{width}} {text}" for name, text in COMMANDS.items()]
        if argv and not asked:
            lines.insert(0, f"{prog}: unknown command {argv[0]!r}")
        print("\n".join(lines), file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    command = importlib.import_module(f"{__package__}.commands.{argv[0]}")
    parser = argparse.ArgumentParser(prog=f"{prog} {argv[0]}", description=command.__doc__)
    command.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    return run_command(lambda: command.run(args), (FeaturesError,), "error: ", "interrupted")


def run_command(
    body: Callable[[], int | None], failures: tuple[type[Exception], ...], error: str, interrupted: str
) -> int:
    """Run a command's `body` as every command ends: its own exit code (0 for None); 1 with one
    line on stderr, `error` then the reason, for one of `failures` or a full disk; 141 when the
    reader of its output went away; 130 with the line `interrupted` on Ctrl-C. Anything else is a
    bug, and its traceback is shown. (Usage errors exit 2 in argparse, before this.)"""
    try:
        return body() or 0
    except failures as exc:
        print(f"{error}{exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `workbench info STORE | head`: the reader has what it wanted
        return stdout_closed()
    except OSError as exc:
        if exc.errno not in NO_SPACE:
            raise
        print(f"{error}{no_space(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130


def no_space(exc: OSError) -> str:
    """A full disk met outside the store (a file the command writes)."""
    where = f" writing {exc.filename}" if exc.filename else ""
    return (
        f"no space left{where} ({exc.strerror}): free space on that disk, or write elsewhere, and run again"
    )


def stdout_closed() -> int:
    """Exit as a shell tool does when its reader goes away: quietly, 141 (128 + SIGPIPE). The
    output still buffered goes to /dev/null, or Python would complain again at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def report_listing(listing: Listing) -> None:
    """Say on stderr what a scan passed over: files without an image extension, unusable paths."""
    if listing.ignored:
        print(f"ignoring {len(listing.ignored)} files without an image extension", file=sys.stderr)
    for path, reason in listing.problems:
        print(f"SKIPPED {path}: {reason}", file=sys.stderr)


def print_incidents(store: Store, prefix: str) -> None:
    """Damage the store set aside during the run, repeated last on stderr, where it is seen."""
    for incident in store.incidents:
        print(f"{prefix}{incident}", file=sys.stderr)
