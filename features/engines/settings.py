"""`EngineSettings`: where and how an engine runs the extractor, apart from what builds it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .ray_options import RayOptions


@dataclass(frozen=True)
class EngineSettings:
    """How an engine runs the extractor: on which device (`auto` resolved where the network
    runs), in batches of what size, with how many decoder processes (local), on which
    cluster (ray)."""

    device: str = "auto"
    batch_size: int = 32
    num_workers: int | None = None
    ray: RayOptions = field(default_factory=RayOptions)
