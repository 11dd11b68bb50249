"""Command `download`: fetch Caltech 101 with torchvision and keep the classes in params."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from urllib.error import URLError

from ..config import DataParams, DownloadParams
from ..exceptions import DataError
from ..params import Params


def run(*, data: DataParams, params: DownloadParams) -> Path:
    from torchvision.datasets import Caltech101

    root = Path(data.root).expanduser()
    if root.exists():
        print(f"download: {root} already exists; nothing to do")
        return root
    with tempfile.TemporaryDirectory(prefix="caltech101-") as tmp:
        try:
            Caltech101(tmp, download=True)
        except (URLError, OSError, RuntimeError) as exc:
            raise DataError(
                f"cannot download Caltech 101 ({exc}). This machine looks offline: point "
                "data.root in params.yaml at any folder with one sub-folder of images per "
                "class (e.g. ../shared/data/caltech101-22) instead."
            ) from exc
        categories = Path(tmp) / "caltech101" / "101_ObjectCategories"
        missing = [c for c in params.classes if not (categories / c).is_dir()]
        if missing:
            known = sorted(p.name for p in categories.iterdir())
            raise DataError(f"download.classes: {missing} are not Caltech 101 classes; known: {known}")
        staging = root.with_name(root.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        for name in params.classes:
            shutil.copytree(categories / name, staging / name)
        staging.rename(root)  # only a complete copy ever appears at data.root
    print(f"download: {len(params.classes)} classes into {root}")
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="workbench download", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    params = Params.load(args.params)
    run(data=params.block("data", DataParams), params=params.block("download", DownloadParams))
