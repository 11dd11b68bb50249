"""`workbench predict`: new images through the store (or pixels) give evaluate's answers."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.artifacts.embeddings import load_embeddings
from pipeline.commands import evaluate, train
from pipeline.commands.evaluate import EvaluateParams
from pipeline.exceptions import PipelineError
from pipeline.heads.registry import head_class, make_head
from pipeline.heads.reject import RejectCalibration
from tests.conftest import embedded_task


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny task run through prepare, embed, train and evaluate for an embedding and an image head."""
    tmp = tmp_path_factory.mktemp("predict")
    images, emb_path, store = embedded_task(tmp)
    heads = {
        "logreg": make_head("logreg"),
        "finetune": make_head(
            "finetune", weights="none", image_size=32, epochs=1, batch_size=4, device="cpu", precision="fp32"
        ),
    }
    for name, head in heads.items():
        train.run(head=head, embeddings_path=emb_path, data_root=str(images), out=tmp / name)
        evaluate.run(
            name=name,
            params=EvaluateParams(),
            head_dir=tmp / name,
            embeddings_path=emb_path,
            data_root=str(images),
            metrics_path=tmp / f"{name}.json",
            predictions_path=tmp / f"{name}.csv",
            confusion_path=tmp / f"{name}-confusion.csv",
        )
    # The test rows, copied into a new folder of class sub-folders (known labels, new paths).
    emb = load_embeddings(emb_path)
    new = tmp / "new"
    for path in emb.paths[emb.split == "test"]:
        (new / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(images / path, new / path)
    return tmp, new, store


def _workbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True)


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("name", ["logreg", "finetune"])
def test_predict_on_a_labelled_folder_matches_evaluate(trained, name):
    tmp, new, store = trained
    out = tmp / f"new-{name}.csv"
    args = ["predict", "--head", str(tmp / name), str(new), "--out", str(out), "--store", store]
    result = _workbench(*args, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    rows = _rows(out)
    evaluated = {r["path"]: r for r in _rows(tmp / f"{name}.csv") if r["split"] == "test"}
    assert len(rows) == len(evaluated) > 0
    for row in rows:
        expected = evaluated[Path(row["path"]).relative_to(new).as_posix()]
        assert row["predicted"] == expected["predicted"]
        assert float(row["confidence"]) == pytest.approx(float(expected["confidence"]), abs=1e-4)
        assert row["error"] == "" and len(row["sha256"]) == 64
    truth = {row["path"]: Path(row["path"]).parent.name for row in rows}  # the class folder
    accuracy = np.mean([row["predicted"] == truth[row["path"]] for row in rows])
    metrics = json.loads((tmp / f"{name}.json").read_text())
    assert accuracy == pytest.approx(metrics["test"]["accuracy"])
    if name == "logreg":
        assert "0 computed, 6 reused" in result.stderr  # every test image's vector was already in the store


def test_unusable_files_are_listed_and_the_rest_still_predicted(trained, tmp_path):
    tmp, new, store = trained
    folder = tmp_path / "mixed"
    shutil.copytree(new, folder)
    (folder / "a" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (folder / "a" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    out = tmp_path / "p.csv"
    result = _workbench(
        "predict", "--head", str(tmp / "logreg"), str(folder), "--out", str(out), "--store", store
    )
    assert result.returncode == 0, result.stderr
    rows = {Path(r["path"]).relative_to(folder).as_posix(): r for r in _rows(out)}
    assert rows["a/broken.jpg"]["predicted"] == "" and rows["a/broken.jpg"]["error"]
    assert rows["a/gone.png"]["error"].startswith("dangling symlink")
    assert sum(r["predicted"] != "" for r in rows.values()) == len(list(new.rglob("*.png")))
    assert "NOT PREDICTED" in result.stderr and "broken.jpg" in result.stderr


def test_a_head_refuses_features_of_another_extractor(trained):
    tmp, _, _ = trained
    head = head_class("logreg").load(tmp / "logreg")
    assert head.features_.recipe["weights"] == "none"
    with pytest.raises(
        PipelineError, match=r"trained on features \w+ \(resnet50 random-init.*but these are other"
    ):
        head_class("logreg").load(tmp / "logreg", fingerprint="other")
    meta = json.loads((tmp / "finetune" / "head.json").read_text())
    assert meta["preprocessing"]["crop"] == 32  # the image head records its own preprocessing


def test_usage_errors_exit_2_and_failures_exit_1(trained, tmp_path):
    tmp, new, store = trained
    assert _workbench("predict", "--help").returncode == 0
    assert _workbench("predict", str(new)).returncode == 2  # --head and --out missing
    missing = _workbench(
        "predict", "--head", str(tmp_path / "nohead"), str(new), "--out", str(tmp_path / "x.csv")
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1].startswith("error in predict: no fitted head in")
    assert "Traceback" not in missing.stderr


@pytest.mark.parametrize("score", ["max_probability", "nearest_train"])
def test_reject_marks_images_below_the_threshold_unknown(trained, tmp_path, score):
    """--reject: the threshold from the head's validation images; below it `unknown`, with the score."""
    tmp, new, store = trained
    calibration = RejectCalibration.read(tmp / "logreg")
    out = tmp_path / "p.csv"
    args = ["predict", "--head", str(tmp / "logreg"), str(new), "--out", str(out), "--store", store]
    result = _workbench(*args, "--reject", "0.5", "--reject-score", score)
    assert result.returncode == 0, result.stderr
    threshold = calibration.threshold(0.5, score)
    rows = _rows(out)
    assert rows and all(r["score"] for r in rows)
    for row in rows:
        below = float(row["score"]) < threshold
        assert (row["predicted"] == "unknown") == below
        assert row["predicted"] == "unknown" or row["predicted"] == row["top3"].split(" ")[0]
    unknown = sum(r["predicted"] == "unknown" for r in rows)
    assert f"{unknown} unknown ({score} below {threshold:.4f}, which accepts 50%" in result.stdout
    plain = _workbench(*args[:-2], "--out", str(tmp_path / "plain.csv"), "--store", store)
    assert "score" not in _rows(tmp_path / "plain.csv")[0] and plain.returncode == 0


def test_reject_with_a_score_the_head_lacks_says_so(trained, tmp_path):
    tmp, new, _ = trained
    out = str(tmp_path / "x.csv")
    result = _workbench("predict", "--head", str(tmp / "finetune"), str(new), "--out", out, "--reject",
                        "--reject-score", "nearest_train")  # fmt: skip
    assert result.returncode == 1 and "no 'nearest_train' thresholds" in result.stderr
    assert not (tmp_path / "x.csv").exists()


def test_evaluate_reports_the_reject_option(trained):
    tmp, _, _ = trained
    reject = json.loads((tmp / "logreg.json").read_text())["reject"]
    assert reject["accept"] == 0.95
    for score in ("max_probability", "nearest_train"):
        assert 0.0 <= reject[score]["test"]["accepted"] <= 1.0 and "threshold" in reject[score]
    finetune = json.loads((tmp / "finetune.json").read_text())["reject"]
    assert "max_probability" in finetune and "nearest_train" not in finetune
