"""The test project never writes where the working copy's params.yaml points: an absolute
data.root (as `dvc exp run -S data.root=/abs/path` leaves it) is a user's folder."""

from __future__ import annotations

import hashlib

import yaml

from tests.conftest import make_folder
from tests.dvc_project import DATA_ROOT, ROOT, make_project, sh


def _snapshot(folder):
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_an_absolute_data_root_in_params_is_left_byte_for_byte(tmp_path):
    users = tmp_path / "users-images"
    make_folder(users, {"only_class": 3})
    before = _snapshot(users)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["root"] = str(users)
    params_file = tmp_path / "params-with-absolute-root.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))

    (tmp_path / "t").mkdir()
    project = make_project(tmp_path / "t", params_file)
    sh(project, "dvc", "repro", "prepare")

    assert _snapshot(users) == before and sorted(p.name for p in users.iterdir()) == ["only_class"]
    assert yaml.safe_load((project / "params.yaml").read_text())["data"]["root"] == DATA_ROOT
    assert len(list((project / DATA_ROOT).rglob("*.png"))) == 30
