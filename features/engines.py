"""Either engine by name: build the extractor where that engine needs it, say which, extract."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from .constants import ENGINES
from .extract import ExtractionReport, extract
from .networks.extractor import Extractor, create_extractor
from .ray_engine import RayOptions, driver_extractor, extract_ray
from .store import FeatureStore


def extract_with(
    engine: str,
    paths: Sequence[str | os.PathLike],
    store: FeatureStore,
    create_args: dict,
    *,
    device: str = "auto",
    precision: str = "auto",
    runtime: str = "torch",
    keys: Sequence[str] | None = None,
    batch_size: int = 32,
    num_workers: int | None = None,
    ray: RayOptions | None = None,
    announce: Callable[[Extractor, str], None] | None = None,
    progress: bool = True,
) -> tuple[Extractor, ExtractionReport]:
    """Make sure `store` holds every image's vector, on this machine (`local`) or a Ray cluster.

    `create_args` go to `create_extractor` (arch, weights, seed, resize, crop). `announce` is
    told the extractor and where it runs before the work starts. The local engine builds it on
    `device`, a CPU runtime's export kept beside the store; Ray builds one on the driver to
    name the vectors, at the runtime and precision its actors resolve, and the actors rebuild
    it from its recipe (ray_engine.py).
    """
    if engine == "ray":
        ray = ray or RayOptions()
        extractor = driver_extractor(device, precision, ray, runtime, **create_args)
        where = f"on Ray ({device})"
    elif engine == "local":
        exports = store.exports()
        extractor = create_extractor(
            device=device, precision=precision, runtime=runtime, exports=exports, **create_args
        )
        where = f"on {extractor.device}"
    else:
        raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")
    if announce is not None:
        announce(extractor, where)
    if engine == "ray":
        report = extract_ray(
            paths, store, extractor, keys, batch_size, device=device, options=ray, progress=progress
        )
    else:
        report = extract(
            paths, store, extractor, keys, batch_size, num_workers=num_workers, progress=progress
        )
    return extractor, report
