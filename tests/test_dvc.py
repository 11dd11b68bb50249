"""The DVC pipeline end to end on a tiny folder: repro, a no-op repro, and an experiment."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from tests.dvc_project import sh

pytestmark = pytest.mark.slow  # real DVC runs of the whole pipeline


def test_repro_runs_every_stage_then_nothing(dvc_project, first_repro):
    project, first = dvc_project, first_repro
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

    second = sh(project, "dvc", "repro")
    assert "Running stage" not in second and "Data and pipelines are up to date" in second


def test_temporary_experiment_on_one_head_reruns_only_that_head(reproduced):
    """--temp runs in a copy of the project under .dvc/tmp, where git-ignored data.root is absent."""
    project = reproduced
    sh(project, "git", "add", "-A")
    sh(project, "git", "commit", "-qm", "baseline")
    out = sh(
        project, "dvc", "exp", "run", "--temp", "-S", "heads.mlp.search.dropout=[0.3]", "-n", "dropout-0.3"
    )
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    # download runs only to link the images into the copy; embed and the other heads are reused
    assert ran == {
        "download", "train@mlp", "evaluate@mlp", "compare", "curves", "robustness", "confusion", "report"
    }  # fmt: skip
    assert "linked to" in out
    shown = sh(project, "dvc", "exp", "show", "--no-pager", "--csv")
    row = next(line for line in shown.splitlines() if "dropout-0.3" in line)
    assert "0.3" in row and "mlp.accuracy" in shown.splitlines()[0]  # summary.json's columns
    assert (project / "data" / "caltech101-22" / "a").is_dir()  # the workspace's data untouched


def test_a_change_to_one_stages_params_class_reruns_only_that_stage_and_the_report(reproduced):
    """Each stage's params live beside the stage, so editing ConfusionParams touches no head."""
    project = reproduced
    sh(project, "dvc", "repro")  # whatever an earlier test left, up to date first
    source = project / "pipeline" / "commands" / "confusion.py"
    original = source.read_text()
    marker = "class ConfusionParams:\n"
    assert marker in original
    source.write_text(original.replace(marker, marker + '    """Edited by the test."""\n\n', 1))
    try:
        out = sh(project, "dvc", "repro")
    finally:
        source.write_text(original)
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert "confusion" in ran and ran <= {"confusion", "report"}, ran


def test_a_label_table_is_a_dep_of_prepare_and_the_pool_is_read_once(reproduced):
    """A second task over the same images: a table that relabels them coarsely, with its own
    split. prepare re-runs when the table changes, and neither prepare nor embed reads an image."""
    project = reproduced
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
    params_file = project / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    params["data"]["labels"] = "labels.csv"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        first = sh(project, "dvc", "repro", "embed")
        assert "Running stage 'prepare'" in first and "split as given; 0 images read" in first
        assert "0 computed, 30 reused" in first
        assert "Data and pipelines are up to date" in sh(project, "dvc", "repro", "embed")
        write("cee")  # one class renamed: only the table changed
        again = sh(project, "dvc", "repro", "embed")
        assert "Running stage 'prepare'" in again and "0 images read" in again
        with open(project / "data" / "splits.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert {r["label"] for r in rows} == {"ab", "cee"} and {r["split_from"] for r in rows} == {"given"}
    finally:  # the folder layout again, for the tests after this one
        params_file.write_text(original)
        sh(project, "dvc", "repro", "embed")


SPLIT = ["train"] * 6 + ["valid"] * 2 + ["test"] * 2
