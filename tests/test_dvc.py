"""`dvc repro` end to end on a tiny folder: a second run does nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import SMALL, make_folder

ROOT = Path(__file__).resolve().parents[1]


def _sh(cwd: Path, *args: str) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def make_project(tmp_path: Path, images: Path, **overrides) -> Path:
    """A git + DVC copy of this project whose params point at `images`."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("features", "pipeline"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, project / name)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["root"] = str(images)
    params["backbone"].update(weights="none", resize=SMALL, crop=SMALL)
    params["embed"].update(store=str(tmp_path / "store.h5"), precision="fp32", batch_size=8)
    for dotted, value in overrides.items():
        block, key = dotted.split("__")
        params[block][key] = value
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _sh(project, "git", "init", "-q")
    _sh(project, "dvc", "init", "-q")
    return project


def test_dvc_repro_twice_second_run_does_nothing(tmp_path):
    images = tmp_path / "images"
    make_folder(images, {"a": 4, "b": 4, "c": 4})
    project = make_project(tmp_path, images)
    first = _sh(project, "dvc", "repro")
    assert "Running stage 'prepare'" in first and "Running stage 'embed'" in first
    assert "12 computed, 0 reused" in first
    second = _sh(project, "dvc", "repro")
    assert "Running stage" not in second
    assert "Stage 'embed' didn't change, skipping" in second
