"""A small git + DVC copy of this project, for the tests that run the whole pipeline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import SMALL, make_folder

ROOT = Path(__file__).resolve().parents[1]
GIT_ID = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
}


def sh(cwd: Path, *args: str) -> str:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, **GIT_ID, "PATH": path}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


# Where the test project keeps its images: inside itself (git-ignored, as the download stage
# leaves them), whatever data.root the working copy's params.yaml holds (`dvc exp run -S
# data.root=/abs/path` writes an absolute one there, and the test must never write into it).
DATA_ROOT = "data/caltech101-22"


def make_project(tmp: Path, params_file: Path = ROOT / "params.yaml") -> Path:
    """A committed git + DVC copy of this project, small settings, 30 tiny images at
    DATA_ROOT inside it."""
    project = tmp / "project"
    project.mkdir()
    for name in ("features", "pipeline"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore", ".gitignore", "data/.gitignore", "data/class-folders.txt"):
        (project / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, project / name)
    params = yaml.safe_load(params_file.read_text())
    params["data"]["root"] = DATA_ROOT
    make_folder(project / DATA_ROOT, {"a": 10, "b": 10, "c": 10})
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
    params["robustness"]["feature"].update(add_fractions=[0.01], zero_fractions=[0.05], gaussian_levels=[0.5])
    params["robustness"]["adversarial"].update(images=4, epsilons=[0.004], pgd_epsilons=[0.004])
    params["confusion"].update(gallery=6, label_issue_folds=3)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(project, "git", "init", "-q")
    sh(project, "dvc", "init", "-q")
    return project
