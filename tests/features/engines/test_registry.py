"""extract_with: either engine by name, the extractor announced before the work starts."""

from __future__ import annotations

import pytest

from features.engines.registry import extract_with
from features.engines.settings import EngineSettings
from features.networks.extractor import ExtractorConfig
from features.store.open import open_store
from tests.conftest import make_image

TINY = ExtractorConfig("resnet18", "none", resize=32, crop=32, precision="fp32")


def test_the_local_engine_announces_then_extracts(tmp_path):
    paths = [make_image(tmp_path / f"{i}.png", seed=i) for i in range(2)]
    told = []
    extractor, report = extract_with(
        "local",
        paths,
        open_store(tmp_path / "s"),
        TINY,
        EngineSettings(device="cpu"),
        announce=lambda e, where: told.append((e.fingerprint, where, report_so_far(tmp_path))),
    )
    assert told == [(extractor.fingerprint, "on cpu", 0)]  # told before anything was stored
    assert report.computed == 2 and extractor.config.precision == "fp32"


def report_so_far(tmp_path) -> int:
    store = open_store(tmp_path / "s")
    return sum(f["count"] for f in store.fingerprints().values()) if store.path.exists() else 0


def test_an_unknown_engine_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown engine 'dask'; choose from \('local', 'ray'\)"):
        extract_with("dask", [], open_store(tmp_path / "s"), TINY)
