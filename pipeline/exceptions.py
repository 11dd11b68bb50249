"""Exceptions raised by the pipeline; all derive from PipelineError."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class: a stage refuses to go on, and the message says why and what to do."""


class ParamsError(PipelineError, ValueError):
    """A params.yaml key or value is wrong: names the key, the value and what is allowed."""


class DataError(PipelineError):
    """The input data cannot be used as it is (missing folder, conflicting duplicates, ...)."""


class UndecodableImages(DataError):
    """Images that decoded when the data was scanned no longer do: they changed since."""

    def __init__(self, stage: str, failures: list[tuple[str, str]]):
        listing = "\n".join(f"  {path}: {reason}" for path, reason in failures)
        super().__init__(
            f"{stage}: {len(failures)} images could not be decoded:\n{listing}\n"
            "They changed after the scan; run `dvc repro prepare` to exclude them."
        )
