"""params.yaml validation: every message names the key, the value and what is allowed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from pipeline.analysis.robustness_params import RobustnessParams
from pipeline.commands.compare import CompareParams
from pipeline.commands.confusion import ConfusionParams
from pipeline.commands.curves import CurvesParams
from pipeline.commands.download import DownloadParams
from pipeline.commands.evaluate import EvaluateParams, RejectParams
from pipeline.commands.pca import PCAParams
from pipeline.data.params import DataParams
from pipeline.embedding.params import BackboneParams, EmbedParams
from pipeline.exceptions import ParamsError
from pipeline.heads.halving import HalvingParams
from pipeline.heads.registry import head_from_params, search_space
from pipeline.params import Params, check_value, parse, read_block, rule

PROJECT_PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


def _write(tmp_path, blocks: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(blocks))
    return path


BLOCKS = {
    "data": DataParams,
    "download": DownloadParams,
    "backbone": BackboneParams,
    "embed": EmbedParams,
    "evaluate": EvaluateParams,
    "reject": RejectParams,
    "compare": CompareParams,
    "curves": CurvesParams,
    "pca": PCAParams,
    "robustness": RobustnessParams,
    "confusion": ConfusionParams,
}


def test_every_block_of_the_project_params_is_read_and_valid():
    """Each block parses into its stage's class with the values written in params.yaml, every
    enabled head builds with its block and search, and no block is left that no stage reads."""
    raw = yaml.safe_load(PROJECT_PARAMS.read_text())
    assert set(raw) == {*BLOCKS, "heads"}
    for name, cls in BLOCKS.items():
        block = read_block(name, cls, PROJECT_PARAMS)
        for key, value in raw[name].items():  # what the file says is what the stage gets
            got = getattr(block, key)
            got = vars(got) if dataclasses.is_dataclass(got) else got
            assert _plain(got) == _plain(value), f"{name}.{key}"
    params = Params.load(PROJECT_PARAMS)
    assert parse(HalvingParams, params.mapping("heads.halving"), "heads.halving").factor >= 2
    for head in raw["heads"]["enabled"]:
        built = head_from_params(head, params)
        space = search_space(head, params, built)
        assert set(space) == set(raw["heads"][head].get("search") or {}) and all(space.values()), head
    assert set(raw["heads"]) - {"enabled", "halving"} == set(raw["heads"]["enabled"])  # no orphan block


def _plain(value):
    """Tuples and lists, dataclasses and dicts compared as YAML writes them."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value):
        return _plain(vars(value))
    return value


def test_defaults_fill_missing_optional_keys(tmp_path):
    params = read_block("embed", EmbedParams, _write(tmp_path, {"embed": {"batch_size": 8}}))
    assert params.batch_size == 8 and params.precision == "auto"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"embed": {"batch_sise": 8}}, r"embed\.batch_sise: unknown key \(did you mean 'batch_size'\?\)"),
        (
            {"embed": {"precision": "fp16"}},
            r"embed\.precision: got 'fp16'; choose from \['auto', 'fp32', 'bf16', 'int8'\]",
        ),
        ({"embed": {"batch_size": 0}}, r"embed\.batch_size: got 0; must be at least 1"),
        ({"embed": {"batch_size": "32"}}, r"embed\.batch_size: got '32' \(str\); expected int"),
        ({"embed": {"batch_size": True}}, r"expected int"),
        ({"embed": [1, 2]}, r"embed: expected a mapping"),
        ({"other": {}}, r"no 'embed' block"),
    ],
)
def test_bad_values_stop_with_a_clear_message(tmp_path, block, message):
    with pytest.raises(ParamsError, match=message):
        read_block("embed", EmbedParams, _write(tmp_path, block))


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ({"train": 0.7, "valid": 0.2, "test": 0.2}, "must sum to 1, got 1.1"),
        ({"train": 0.8, "valid": 0.2, "test": 0.0}, "must be above 0"),
        (
            {"train": 1.5, "valid": 0.2, "test": 0.2},
            r"data\.split\.train: got 1\.5; must be between 0\.0 and 1\.0",
        ),
    ],
)
def test_split_fractions_are_checked(tmp_path, split, message):
    path = _write(tmp_path, {"data": {"root": "x", "split": split}})
    with pytest.raises(ParamsError, match=message):
        read_block("data", DataParams, path)


def test_required_key_and_nested_block(tmp_path):
    with pytest.raises(ParamsError, match=r"data\.root: missing"):
        read_block("data", DataParams, _write(tmp_path, {"data": {"seed": 1}}))
    params = read_block(
        "data",
        DataParams,
        _write(tmp_path, {"data": {"root": "r", "split": {"train": 0.5, "valid": 0.25, "test": 0.25}}}),
    )
    assert params.split.valid == 0.25


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        read_block("data", DataParams, tmp_path / "absent.yaml")
    broken = tmp_path / "params.yaml"
    broken.write_text("data: [unclosed")
    with pytest.raises(ParamsError, match="not valid YAML"):
        read_block("data", DataParams, broken)


@pytest.mark.parametrize(
    ("meta", "bad", "message", "good"),
    [
        (rule(gt=0.0), 0.0, "must be above 0.0", 1e-9),
        (rule(gt=0.0, max=1.0), 1.5, "must be above 0.0 and at most 1.0", 1.0),
        (rule(min=0.0, lt=1.0), 1.0, "must be at least 0.0 and below 1.0", 0.0),
        (rule(min=1), 0, "must be at least 1", 1),
        (rule(min=0.0, max=0.5), 0.6, "must be between 0.0 and 0.5", 0.5),
    ],
)
def test_open_and_closed_bounds(meta, bad, message, good):
    hint = type(bad)
    with pytest.raises(ParamsError, match=f"x: got {bad}; {message}$"):
        check_value(bad, hint, "x", meta)
    assert check_value(good, hint, "x", meta) == good
