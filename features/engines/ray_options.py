"""Where and how wide the Ray engine runs, and Ray itself or what to install: nothing here
imports Ray, so the CLI and the params can name the options without loading the engine."""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import ConfigError

INSTALL = 'the Ray engine needs Ray: pip install -e ".[ray]" (or pip install "ray[data]")'


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run. Defaults: one actor per GPU in the cluster; without GPUs,
    one single-threaded actor per core."""

    address: str | None = None  # a running cluster ("auto", "ray://host:10001"); None: start one here
    actors: int | None = None
    gpus_per_actor: float | None = None


def require_ray():
    """The ray module, or a ConfigError that says what to install."""
    try:
        import ray
        import ray.data  # noqa: F401  (the [data] extra)
    except ImportError as exc:
        raise ConfigError(f"{INSTALL} ({exc})") from None
    return ray
