"""Engines by name: `local` (this machine, local.py) or `ray` (a Ray cluster, ray.py).

An engine module is imported only when named, so a stage that embeds locally never loads
(nor depends on) the Ray engine. Each one has `prepare` (its extractor, and where it runs in
words) and `run` (plan, embed what is new, record; the report).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence

from ..constants import ENGINES
from ..extraction.report import ExtractionReport
from ..networks.extractor import Extractor, ExtractorConfig
from ..store.base import Store
from .settings import EngineSettings


def extract_with(
    engine: str,
    paths: Sequence[str | os.PathLike],
    store: Store,
    config: ExtractorConfig,
    how: EngineSettings | None = None,
    *,
    keys: Sequence[str] | None = None,
    announce: Callable[[Extractor, str], None] | None = None,
    progress: bool = True,
) -> tuple[Extractor, ExtractionReport]:
    """Make sure `store` holds every image's vector, on this machine (`local`) or a Ray cluster.

    `announce` is told the extractor and where it runs before the work starts. The local engine
    builds it from `config` on `how.device`; Ray builds one on the driver to name the vectors,
    at the runtime and precision its actors resolve, and the actors rebuild it from its
    resolved config (ray.py).
    """
    how = how or EngineSettings()
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")
    module = importlib.import_module(f"{__package__}.{engine}")
    extractor, where = module.prepare(store, config, how)
    if announce is not None:
        announce(extractor, where)
    return extractor, module.run(paths, store, extractor, keys, how, progress)
