"""`workbench <command>`: the DVC stages, `predict`, and the feature store's commands, in one place.

Exit status: 0 done, 1 failed (one line on stderr saying why and what to do), 2 usage
error, 130 interrupted (Ctrl-C). `python -m pipeline` and `python -m features` run the same code.
"""

from __future__ import annotations

import importlib
import logging
import sys

from features import cli as store_cli
from features.exceptions import FeaturesError

from .exceptions import PipelineError

STAGES = {
    "download": "fetch Caltech 101 into data.root when it is absent",
    "prepare": "scan data.root, settle duplicates, write the seeded split",
    "embed": "vectors for every image, from the feature store",
    "leakage": "near-duplicate images across splits, by embedding similarity",
    "train": "fit one head",
    "evaluate": "predict every image with one head, metrics per split",
    "compare": "every head on the same test rows, with intervals and pairwise tests",
    "curves": "test accuracy against labelled images per class, from the cached embeddings",
    "pca": "PCA of the embeddings",
    "robustness": "every head under feature, image and adversarial perturbations",
    "confusion": "confusions, disagreements and likely label issues",
    "report": "reports/index.html",
}
COMMANDS = {
    "predict": "apply a trained head to new images",
    "export-model": "a trained head with its backbone as one ONNX file",
    **store_cli.COMMANDS,  # run by features.cli
}


def usage(prog: str) -> str:
    lines = [f"usage: {prog} <command> [args]   ({prog} <command> --help for its options)", ""]
    lines += ["pipeline stages (dvc repro runs them):"]
    width = max(map(len, [*STAGES, *COMMANDS]))
    lines += [f"  {name:<{width}} {text}" for name, text in STAGES.items()]
    lines += ["", "use and the feature store:"]
    lines += [f"  {name:<{width}} {text}" for name, text in COMMANDS.items()]
    return "\n".join(lines)


def _log_to_stderr() -> None:
    """The libraries log; a command shows their INFO lines and warnings, one plain line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("pipeline", "features", "py.warnings"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    logging.captureWarnings(True)


def main(argv: list[str] | None = None, prog: str = "workbench") -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(prog), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command in store_cli.COMMANDS:
        return store_cli.main([command, *rest], prog=prog)
    if command not in STAGES and command not in ("predict", "export-model"):
        known = [*STAGES, *COMMANDS]
        print(
            f"{prog}: unknown command {command!r}; choose from {known} (see {prog} --help)", file=sys.stderr
        )
        return 2
    _log_to_stderr()
    module = importlib.import_module(f".commands.{command.replace('-', '_')}", __package__)
    failures = (PipelineError, FeaturesError)
    return store_cli.run_command(
        lambda: module.main(rest), failures, f"error in {command}: ", f"{command}: interrupted"
    )
