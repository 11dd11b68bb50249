"""Stage `download`: make sure data.root holds the images; fetch Caltech 101 there when it is absent."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

from ..data.params import DataParams
from ..exceptions import DataError
from ..params import param
from .arguments import parse_stage

CALTECH_HOST = "data.caltech.edu"  # where torchvision's Caltech101 downloads from
CALTECH_22 = [
    "accordion", "anchor", "ant", "bass", "beaver", "binocular", "brain", "brontosaurus",
    "buddha", "dalmatian", "electric_guitar", "inline_skate", "lamp", "octopus", "pagoda",
    "panda", "stop_sign", "strawberry", "sunflower", "tick", "wrench", "yin_yang",
]  # fmt: skip


@dataclass(frozen=True)
class DownloadParams:
    """`download`: which Caltech 101 classes the download stage keeps when it fetches data.root."""

    classes: list[str] = param(CALTECH_22)


def run(*, data: DataParams, params: DownloadParams, project: Path | None = None) -> Path:
    """data.root as it will be read: already there, linked from the launching project, or downloaded.

    Only a folder inside the project is ever downloaded into; a missing folder elsewhere is
    a typo or an unmounted disk, and stops the stage naming data.root.
    """
    project = (project or Path.cwd()).resolve()
    root = Path(data.root).expanduser()
    if root.exists():
        print(f"download: data.root {data.root} is present; nothing to do")
        return root
    if _link_from_launching_project(root, project):
        return root
    inside = (project / root).resolve().is_relative_to(project)
    if not inside:
        raise DataError(
            f"data.root {data.root!r} does not exist. Point data.root at a folder with one "
            "sub-folder of images per class (dvc exp run -S data.root=PATH), or leave it inside "
            "this project (the default data/caltech101-22) to have Caltech 101 downloaded there."
        )
    _download_caltech(root, params.classes, data.root)
    return root


def _link_from_launching_project(root: Path, project: Path) -> bool:
    """In `dvc exp run --temp` or a queued run, DVC works in a copy of the project under
    .dvc/tmp and copies only what git or DVC tracks; data.root is neither, so link it to the
    folder of the project the experiment was launched from (DVC_ROOT)."""
    launched = Path(os.environ.get("DVC_ROOT", project)).resolve()
    if root.is_absolute() or launched == project or not (launched / root).is_dir():
        return False
    root.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # another queued experiment linked it first
        root.symlink_to(launched / root, target_is_directory=True)
    print(f"download: data.root {root} linked to {launched / root} (the project this experiment came from)")
    return True


def _download_caltech(root: Path, classes: list[str], name: str) -> None:
    from torchvision.datasets import Caltech101

    offline = (
        f"data.root {name!r} does not exist and Caltech 101 cannot be downloaded ({{reason}}). "
        "Offline, point data.root at a folder with one sub-folder of images per class: "
        "dvc exp run -S data.root=/path/to/images (an absolute path works in --temp runs too)."
    )
    try:
        socket.create_connection((CALTECH_HOST, 443), timeout=10).close()  # fail in seconds, not minutes
    except OSError as exc:
        raise DataError(offline.format(reason=f"{CALTECH_HOST} unreachable: {exc}")) from exc
    print(f"download: fetching Caltech 101 from {CALTECH_HOST} (about 130 MB) for data.root {name}")
    with tempfile.TemporaryDirectory(prefix="caltech101-") as tmp:
        try:
            Caltech101(tmp, download=True)
        except (URLError, OSError, RuntimeError) as exc:
            raise DataError(offline.format(reason=exc)) from exc
        categories = Path(tmp) / "caltech101" / "101_ObjectCategories"
        missing = [c for c in classes if not (categories / c).is_dir()]
        if missing:
            known = sorted(p.name for p in categories.iterdir())
            raise DataError(f"download.classes: {missing} are not Caltech 101 classes; known: {known}")
        staging = root.with_name(root.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        for label in classes:
            shutil.copytree(categories / label, staging / label)
        staging.rename(root)  # only a complete copy ever appears at data.root
    print(f"download: {len(classes)} classes into {root}")


def main(argv: list[str] | None = None) -> None:
    params, _ = parse_stage("download", __doc__, argv)
    run(data=params.block("data", DataParams), params=params.block("download", DownloadParams))
