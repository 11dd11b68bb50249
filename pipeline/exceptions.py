"""Exceptions raised by the pipeline; all derive from PipelineError."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class: a stage refuses to go on, and the message says why and what to do."""


class ParamsError(PipelineError, ValueError):
    """A params.yaml key or value is wrong: names the key, the value and what is allowed."""


class DataError(PipelineError):
    """The input data cannot be used as it is (missing folder, conflicting duplicates, ...)."""
