"""download: present data is left alone, --temp copies link it, offline stops naming data.root."""

from __future__ import annotations

import pytest

from pipeline.commands import download
from pipeline.commands.download import DownloadParams
from pipeline.data.params import DataParams
from pipeline.exceptions import DataError


def test_present_data_root_is_left_alone(tmp_path, image_folder):
    before = sorted(image_folder.rglob("*"))
    assert download.run(data=DataParams(root=str(image_folder)), params=DownloadParams()) == image_folder
    assert sorted(image_folder.rglob("*")) == before


def test_a_missing_folder_outside_the_project_is_never_downloaded_into(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=r"data.root '/nowhere/images' does not exist"):
        download.run(data=DataParams(root="/nowhere/images"), params=DownloadParams())


def test_offline_stops_at_once_naming_data_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(download, "CALTECH_HOST", "caltech.invalid")  # a name that never resolves
    with pytest.raises(DataError, match=r"data.root 'data/caltech' does not exist and Caltech 101 cannot be"):
        download.run(data=DataParams(root="data/caltech"), params=DownloadParams())
    assert not (tmp_path / "data" / "caltech").exists()


def test_a_temporary_experiment_copy_links_the_launching_projects_data(tmp_path, image_folder, monkeypatch):
    launched, copy = tmp_path / "project", tmp_path / "project" / ".dvc" / "tmp" / "exps" / "tmp1"
    (launched / "data").mkdir(parents=True)
    image_folder.rename(launched / "data" / "images")
    copy.mkdir(parents=True)
    monkeypatch.chdir(copy)
    monkeypatch.setenv("DVC_ROOT", str(launched))  # what DVC sets for --temp and queued runs
    download.run(data=DataParams(root="data/images"), params=DownloadParams())
    assert (copy / "data" / "images").is_symlink()
    assert sorted(p.name for p in (copy / "data" / "images").iterdir()) == ["cats", "dogs", "red fish ü"]
