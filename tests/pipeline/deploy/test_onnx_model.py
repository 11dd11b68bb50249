"""`workbench export-model`: one ONNX file per head that gives `workbench predict`'s probabilities,
run by ONNX Runtime alone, and by examples/onnx_predict.py without this project."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from features.images.listing import list_images
from features.images.reading import read_image
from features.store.open import open_store
from pipeline.artifacts.embeddings import load_embeddings
from pipeline.commands import predict, train
from pipeline.deploy.onnx_model import export_model
from pipeline.exceptions import PipelineError
from pipeline.heads.registry import load_head, make_head
from pipeline.heads.reject import RejectCalibration
from tests.conftest import embedded_task

ROOT = Path(__file__).resolve().parents[3]
HEADS = {
    "logreg": {},
    "glmnet": {},
    "mlp": {"epochs": 3},
    "knn": {"n_neighbors": 3},
    "finetune": {"weights": "none", "image_size": 32, "epochs": 1, "batch_size": 4, "device": "cpu",
                 "precision": "fp32"},
}  # fmt: skip


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    """Every head trained on a tiny task (random-init ResNet-50 at 64 px, torch fp32)."""
    tmp = tmp_path_factory.mktemp("export")
    images, _, store = embedded_task(tmp, runtime="torch")
    for name, kwargs in HEADS.items():
        train.run(head=make_head(name, **kwargs), embeddings_path=tmp / "emb.h5", data_root=str(images),
                  out=tmp / name)  # fmt: skip
    emb = load_embeddings(tmp / "emb.h5")
    test = [str(images / p) for p in emb.paths[emb.split == "test"]]
    return tmp, test, open_store(store)


def _run(model: Path, paths: list[str]) -> tuple[np.ndarray, np.ndarray, dict]:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    prep = json.loads(meta["preprocessing"])
    from features.images.preprocessing import Preprocessing

    preprocessing = Preprocessing(**{**prep, "mean": tuple(prep["mean"]), "std": tuple(prep["std"])})
    batch = np.stack([preprocessing.to_uint8(read_image(p)).numpy() for p in paths])
    probabilities, score = session.run(["probabilities", "score"], {"images": batch})
    return probabilities, score, meta


@pytest.mark.parametrize("name", list(HEADS))
def test_the_export_gives_predicts_probabilities(task, name):
    tmp, test, store = task
    out = export_model(tmp / name, tmp / f"{name}.onnx")
    probabilities, score, meta = _run(out.path, test)
    head = load_head(tmp / name)
    expected = predict.predict_images(head, [Path(p) for p in test], store=store, device="cpu")
    assert expected.paths == test
    np.testing.assert_allclose(probabilities, expected.proba, atol=1e-4)
    np.testing.assert_allclose(score, probabilities.max(axis=1), rtol=1e-6)
    assert json.loads(meta["classes"]) == ["a", "b", "c"] == out.classes
    assert (
        json.loads(meta["head"])["name"] == name and len(json.loads(meta["head"])["head_json_sha256"]) == 64
    )
    assert set(json.loads(meta["preprocessing"])) == {"resize", "crop", "interpolation", "mean", "std"}
    reject = json.loads(meta["reject"])
    calibration = RejectCalibration.read(tmp / name)
    try:
        expected = calibration.threshold(0.95)
    except PipelineError as tie:  # an overconfident head on noise: every image at 1.0, said, not exported
        assert "0.95" not in reject["thresholds"] and "nearest_train" in reject["note"] and str(tie)
    else:
        assert reject["thresholds"]["0.95"] == pytest.approx(expected)
    if name != "finetune":
        assert meta["fingerprint"] == head.trained_features().fingerprint


def test_the_example_runs_it_without_this_project(task):
    """examples/onnx_predict.py with torch, torchvision and this project's packages unimportable:
    its Pillow preprocessing gives the same probabilities as the workbench's."""
    tmp, test, _ = task
    model = export_model(tmp / "logreg", tmp / "example.onnx").path
    probabilities, _, meta = _run(model, test)
    blocked = "import sys, runpy\n" + "".join(
        f"sys.modules[{name!r}] = None\n"
        for name in ("torch", "torchvision", "pipeline", "features", "sklearn")
    )
    example = str(ROOT / "examples" / "onnx_predict.py")
    run = f"sys.argv = ['onnx_predict.py', *sys.argv[1:]]\nrunpy.run_path({example!r}, run_name='__main__')"
    script = blocked + run
    result = subprocess.run([sys.executable, "-c", script, str(model), *test, "--reject", "0.95"],
                            capture_output=True, text=True, cwd=tmp)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert [line[0] for line in lines] == test
    classes = json.loads(meta["classes"])
    threshold = json.loads(meta["reject"])["thresholds"]["0.95"]
    for line, proba in zip(lines, probabilities, strict=True):
        expected = classes[proba.argmax()] if proba.max() >= threshold else "unknown"
        assert line[1] == expected
        assert float(line[2]) == pytest.approx(proba.max(), abs=1e-4)


def test_int8_export_is_quantized_and_still_gives_probabilities(task):
    tmp, test, _ = task
    calibration = [str(p) for p in list_images([tmp / "images"]).images][:16]
    fp32 = export_model(tmp / "logreg", tmp / "fp32.onnx")
    int8 = export_model(tmp / "logreg", tmp / "int8.onnx", precision="int8", calibration=calibration)
    assert int8.megabytes < fp32.megabytes / 2  # int8 weights
    probabilities, _, meta = _run(int8.path, test)
    assert meta["precision"] == "int8"
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_what_cannot_be_exported_says_why(task, tmp_path):
    tmp, _, _ = task
    with pytest.raises(PipelineError, match="constants .* above the 0 MB allowed.*--max-constants-mb"):
        export_model(tmp / "knn", tmp_path / "knn.onnx", max_constants_mb=0)
    graph = make_head("knn", n_neighbors=3, index="approximate")
    train.run(
        head=graph, embeddings_path=tmp / "emb.h5", data_root=str(tmp / "images"), out=tmp_path / "graph"
    )
    with pytest.raises(PipelineError, match="searches an HNSW graph.*heads.knn.index=exact"):
        export_model(tmp_path / "graph", tmp_path / "graph.onnx")
    with pytest.raises(PipelineError, match="needs calibration images"):
        export_model(tmp / "logreg", tmp_path / "x.onnx", precision="int8")
    with pytest.raises(PipelineError, match="no fitted head"):
        export_model(tmp_path, tmp_path / "y.onnx")
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".*part"))


def test_the_command(task):
    tmp, _, _ = task
    command = [sys.executable, "-m", "pipeline", "export-model", "--head"]
    result = subprocess.run(
        [*command, str(tmp / "glmnet"), "--out", str(tmp / "cli.onnx")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "export-model glmnet: 3 classes, uint8 (N, 3, 64, 64)" in result.stdout
    missing = subprocess.run(
        [*command, str(tmp / "nothing"), "--out", str(tmp / "n.onnx")], capture_output=True, text=True
    )
    assert missing.returncode == 1 and missing.stderr.startswith("error in export-model: no fitted head")
