"""train / evaluate / compare as functions: params stop at load, outputs line up."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from pipeline.artifacts.embeddings import Embeddings, save_embeddings
from pipeline.commands import compare, curves, evaluate, train
from pipeline.commands.compare import CompareParams
from pipeline.commands.curves import CurvesParams
from pipeline.commands.evaluate import EvaluateParams
from pipeline.exceptions import ParamsError
from pipeline.heads.halving import HalvingParams
from pipeline.heads.registry import head_from_params, make_head, search_space
from pipeline.params import Params


@pytest.fixture
def params_file(tmp_path):
    def write(heads: dict):
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump({"backbone": {}, "embed": {}, "heads": heads}))
        return Params.load(path)

    return write


def test_bad_head_params_stop_before_any_data_is_read(params_file):
    with pytest.raises(ParamsError, match=r"heads\.mlp\.dropuot: unknown key"):
        head_from_params("mlp", params_file({"mlp": {"dropuot": 0.2}}))
    with pytest.raises(ParamsError, match=r"heads\.glmnet\.n_lambda: got 2; must be at least 3"):
        head_from_params("glmnet", params_file({"glmnet": {"n_lambda": 2}}))
    params = params_file({"knn": {"search": {"n_neighbors": [3, 0]}}})
    with pytest.raises(ParamsError, match=r"heads\.knn\.search\.n_neighbors: got 0; must be at least 1"):
        search_space("knn", params, head_from_params("knn", params))


def test_shared_backbone_settings_reach_the_heads_that_take_them(params_file):
    head = head_from_params("finetune", params_file({"finetune": {"epochs": 2}}))
    assert (head.arch, head.weights, head.epochs) == ("resnet50", "IMAGENET1K_V2", 2)
    assert head.store.endswith("workbench/store")


@pytest.fixture
def embeddings(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    vectors = rng.normal(size=(60, 8)) + 4 * np.eye(3, 8)[labels]
    split = np.tile(["train", "train", "train", "valid", "test"], 12)
    emb = Embeddings(
        vectors.astype(np.float32),
        labels,
        split,
        np.array([f"{i}.png" for i in range(60)]),
        np.array([f"{i:064d}" for i in range(60)]),
        ["x", "y", "z"],
        "fp",
        {},
    )
    path = tmp_path / "emb.h5"
    save_embeddings(path, emb)
    return path


def test_train_evaluate_compare(tmp_path, params_file, embeddings):
    params = params_file({"logreg": {"search": {"C": [0.01, 1.0]}}})
    for name in ("knn", "logreg"):
        head = head_from_params(name, params)
        space = search_space(name, params, head)
        train.run(
            head=head,
            embeddings_path=embeddings,
            data_root="unused",
            out=tmp_path / "heads" / name,
            space=space,
        )
        evaluate.run(
            name=name,
            params=EvaluateParams(),
            head_dir=tmp_path / "heads" / name,
            embeddings_path=embeddings,
            data_root="unused",
            metrics_path=tmp_path / "m" / f"{name}.json",
            predictions_path=tmp_path / "p" / f"{name}.csv",
            confusion_path=tmp_path / "c" / f"{name}.csv",
        )
    fit = json.loads((tmp_path / "heads" / "logreg" / "fit.json").read_text())
    assert [c["params"] for c in fit["search"]["candidates"]] == [{"C": 0.01}, {"C": 1.0}]
    assert fit["chosen"]["C"] in (0.01, 1.0)
    assert (
        json.loads((tmp_path / "heads" / "logreg" / "head.json").read_text())["params"]["C"]
        == fit["chosen"]["C"]
    )
    assert json.loads((tmp_path / "m" / "logreg.json").read_text())["chosen"] == fit["chosen"]
    metrics = json.loads((tmp_path / "m" / "knn.json").read_text())
    assert set(metrics) >= {"train", "valid", "test", "fit_seconds", "predict_ms_per_image", "model_bytes"}
    assert metrics["test"]["n"] == 12 and set(metrics["test"]["per_class"]) == {"x", "y", "z"}
    header = (tmp_path / "p" / "knn.csv").read_text().splitlines()[0]
    assert header == "path,split,true,predicted,confidence,p_x,p_y,p_z"

    result = compare.run(
        heads=["knn", "logreg"],
        params=CompareParams(resamples=200),
        metrics_tpl=str(tmp_path / "m" / "{head}.json"),
        predictions_tpl=str(tmp_path / "p" / "{head}.csv"),
        out_json=tmp_path / "compare.json",
        out_summary=tmp_path / "summary.json",
        out_md=tmp_path / "compare.md",
        figures=tmp_path / "compare",
    ).to_json()
    assert result["n_test"] == 12 and len(result["pairs"]) == 1
    pair = result["pairs"][0]
    assert {pair["a"], pair["b"]} == {"knn", "logreg"} and pair["p_holm"] == pair["p_value"]  # one test
    assert pair["winner"] is None  # 12 test rows tell nothing apart
    low, high = result["heads"]["knn"]["test_accuracy_ci"]
    assert low <= result["heads"]["knn"]["test_accuracy"] <= high
    markdown = (tmp_path / "compare.md").read_text()
    assert (
        "| knn |" in markdown and "chosen on valid" in markdown and f"C={fit['chosen']['C']:.3g}" in markdown
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) == {"knn", "logreg"}
    assert set(summary["knn"]) == {
        "accuracy",
        "accuracy_low",
        "accuracy_high",
        "macro_f1",
        "log_loss",
        "ece",
        "fit_seconds",
    }
    assert summary["knn"]["accuracy"] == round(result["heads"]["knn"]["test_accuracy"], 4)
    for figure in ("heads", "pairs", "reliability"):
        assert (tmp_path / "compare" / f"{figure}.png").stat().st_size > 10_000
    bins = result["heads"]["knn"]["reliability"]
    assert sum(b["n"] for b in bins) == 12 and len(bins) == EvaluateParams().ece_bins


def test_curves_stage_uses_the_enabled_embedding_heads_as_train_chose_them(tmp_path, embeddings):
    path = tmp_path / "params.yaml"
    path.write_text(
        yaml.safe_dump({"backbone": {}, "embed": {}, "heads": {"enabled": ["finetune", "knn", "logreg"]}})
    )
    for name, head in (
        ("knn", head_from_params("knn", Params.load(path))),
        ("logreg", make_head("logreg", C=0.02)),
    ):
        train.run(head=head, embeddings_path=embeddings, data_root="unused", out=tmp_path / "heads" / name)
    heads = curves.curve_heads(Params.load(path), False, str(tmp_path / "heads" / "{head}"))
    assert list(heads) == ["knn", "logreg"]  # finetune only when asked for
    assert heads["logreg"].C == 0.02 and hasattr(heads["logreg"], "model_")  # as train fitted it
    result = curves.run(
        heads=heads,
        params=CurvesParams(per_class=[2, 5], draws=2, resamples=100),
        embeddings_path=embeddings,
        data_root="unused",
        metrics_path=tmp_path / "curves.json",
        figure=tmp_path / "curves.png",
    )
    saved = json.loads((tmp_path / "curves.json").read_text())
    assert saved["heads"]["logreg"][-1]["per_class"] is None and saved["n_test"] == 12
    assert [p.per_class for p in result.heads["logreg"]] == [2, 5, None]
    assert "logreg: no forecast (3 curve points; a forecast needs 4)" in saved["notes"]  # said, not guessed
    assert saved["forecast"] == {} and saved["backtest"] == {}
    assert (tmp_path / "curves.png").stat().st_size > 10_000


def test_a_long_glmnet_search_is_forecast_at_load_with_the_param_that_bounds_it(capsys):
    head = make_head("glmnet")
    space = {"alpha": (1.0, 0.1, 0.01)}
    train._say_if_long(head, space, (60_000, 512), 100, HalvingParams())
    said = capsys.readouterr().out
    assert "projected to take about 47 min" in said and "heads.glmnet.max_train_rows (now None" in said
    train._say_if_long(head.set_params(max_train_rows=5000), space, (60_000, 512), 100, HalvingParams())
    assert capsys.readouterr().out == ""  # 5000 rows: a few minutes, nothing to say
    train._say_if_long(make_head("logreg"), {"C": (1.0,)}, (10**6, 2048), 1000, None)
    assert capsys.readouterr().out == ""  # no forecast for heads that cannot make one
