"""Exceptions raised by the features library; all derive from FeaturesError."""

from __future__ import annotations


class FeaturesError(Exception):
    """Base class: anything the features library refuses, with a message saying why."""


class ConfigError(FeaturesError, ValueError):
    """A bad argument: an unknown architecture, precision, device or weights value."""


class WeightsUnavailableError(FeaturesError):
    """Pretrained weights are neither cached nor downloadable (an offline machine)."""


class ImageReadError(FeaturesError):
    """One image could not be decoded; `reason` says why in a few words."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class StoreError(FeaturesError):
    """The feature store is damaged, locked or used inconsistently."""
