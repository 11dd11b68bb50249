"""The DVC pipeline end to end on a tiny folder: repro, a no-op repro, and an experiment."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import SMALL, make_folder

pytestmark = pytest.mark.slow  # real DVC runs of the whole pipeline

ROOT = Path(__file__).resolve().parents[1]
GIT_ID = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
}


def _sh(cwd: Path, *args: str) -> str:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, **GIT_ID, "PATH": path}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A committed git + DVC copy of this project, small settings, 30 tiny images at the
    default data.root (inside the project, ignored by git, as the download stage leaves them)."""
    tmp = tmp_path_factory.mktemp("dvc")
    project = tmp / "project"
    project.mkdir()
    for name in ("features", "pipeline"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore", "data/.gitignore", "data/class-folders.txt"):
        (project / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, project / name)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    make_folder(project / params["data"]["root"], {"a": 10, "b": 10, "c": 10})
    params["backbone"].update(weights="none", resize=SMALL, crop=SMALL)
    params["embed"].update(store=str(tmp / "store"), precision="fp32", batch_size=8)
    heads = params["heads"]
    heads["mlp"].update(epochs=5)
    heads["glmnet"].update(n_lambda=20)
    heads["finetune"].update(image_size=32, epochs=1, batch_size=4, freeze="layer3")
    params["compare"]["resamples"] = 200
    params["pca"]["sizes"] = [2, 4, 8]
    params["curves"].update(per_class=[2, 5], draws=2, resamples=200)
    params["robustness"].update(corruptions=["gaussian_blur", "occlusion"], severities=[1, 5])
    params["robustness"]["feature"].update(add_counts=[10], zero_counts=[100], gaussian_levels=[0.5])
    params["robustness"]["adversarial"].update(images=4, epsilons=[0.004], pgd_epsilons=[0.004])
    params["confusion"].update(gallery=6, label_issue_folds=3)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _sh(project, "git", "init", "-q")
    _sh(project, "dvc", "init", "-q")
    return project


def test_repro_runs_every_stage_then_nothing(project):
    first = _sh(project, "dvc", "repro")
    for stage in (
        "download",
        "prepare",
        "embed",
        "train@mlp",
        "train@finetune",
        "evaluate@glmnet",
        "compare",
        "curves",
        "leakage",
        "pca",
        "robustness",
        "confusion",
        "report",
    ):
        assert f"Running stage '{stage}'" in first
    assert "30 computed, 0 reused" in first
    compare = json.loads((project / "metrics" / "compare.json").read_text())
    assert set(compare["heads"]) == {"mlp", "glmnet", "finetune", "knn", "logreg"}
    assert (project / "reports" / "compare.md").read_text().startswith("# Head comparison")

    second = _sh(project, "dvc", "repro")
    assert "Running stage" not in second and "Data and pipelines are up to date" in second


def test_temporary_experiment_on_one_head_reruns_only_that_head(project):
    """--temp runs in a copy of the project under .dvc/tmp, where git-ignored data.root is absent."""
    _sh(project, "git", "add", "-A")
    _sh(project, "git", "commit", "-qm", "baseline")
    out = _sh(
        project, "dvc", "exp", "run", "--temp", "-S", "heads.mlp.search.dropout=[0.3]", "-n", "dropout-0.3"
    )
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    # download runs only to link the images into the copy; embed and the other heads are reused
    assert ran == {
        "download", "train@mlp", "evaluate@mlp", "compare", "curves", "robustness", "confusion", "report"
    }  # fmt: skip
    assert "linked to" in out
    shown = _sh(project, "dvc", "exp", "show", "--no-pager", "--csv")
    row = next(line for line in shown.splitlines() if "dropout-0.3" in line)
    assert "0.3" in row and "mlp.accuracy" in shown.splitlines()[0]  # summary.json's columns
    assert (project / "data" / "caltech101-22" / "a").is_dir()  # the workspace's data untouched


def test_a_change_to_one_stages_params_class_reruns_only_that_stage_and_the_report(project):
    """Each stage's params live beside the stage, so editing ConfusionParams touches no head."""
    _sh(project, "dvc", "repro")  # whatever an earlier test left, up to date first
    source = project / "pipeline" / "commands" / "confusion.py"
    original = source.read_text()
    marker = "class ConfusionParams:\n"
    assert marker in original
    source.write_text(original.replace(marker, marker + '    """Edited by the test."""\n\n', 1))
    try:
        out = _sh(project, "dvc", "repro")
    finally:
        source.write_text(original)
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert "confusion" in ran and ran <= {"confusion", "report"}, ran


def test_a_label_table_is_a_dep_of_prepare_and_the_pool_is_read_once(project):
    """A second task over the same images: a table that relabels them coarsely, with its own
    split. prepare re-runs when the table changes, and neither prepare nor embed reads an image."""
    images = sorted((project / "data" / "caltech101-22").rglob("*.png"))
    table = project / "labels.csv"

    def write(relabel: str) -> None:
        with open(table, "w", newline="") as handle:
            rows = csv.writer(handle)
            rows.writerow(["path", "label", "split"])
            for i, image in enumerate(images):
                label = relabel if image.parent.name == "c" else "ab"
                rows.writerow([image.relative_to(image.parents[1]).as_posix(), label, SPLIT[i % 10]])

    write("c")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"]["labels"] = "labels.csv"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    first = _sh(project, "dvc", "repro", "embed")
    assert "Running stage 'prepare'" in first and "split as given; 0 images read" in first
    assert "0 computed, 30 reused" in first
    assert "Data and pipelines are up to date" in _sh(project, "dvc", "repro", "embed")
    write("cee")  # one class renamed: only the table changed
    again = _sh(project, "dvc", "repro", "embed")
    assert "Running stage 'prepare'" in again and "0 images read" in again
    with open(project / "data" / "splits.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["label"] for r in rows} == {"ab", "cee"} and {r["split_from"] for r in rows} == {"given"}


SPLIT = ["train"] * 6 + ["valid"] * 2 + ["test"] * 2
