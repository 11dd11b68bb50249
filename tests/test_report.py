"""The analyses and the report of a tiny end-to-end run: plots not blank, page renders in Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.dvc_project import sh

pytestmark = pytest.mark.slow  # the whole pipeline (one repro, shared with test_dvc.py), then Chromium

HEADS = {"mlp", "glmnet", "finetune", "knn", "logreg"}


def _not_blank(path: Path) -> bool:
    pixels = np.asarray(Image.open(path).convert("L"), dtype=float)
    return pixels.std() > 5


def test_every_plot_exists_and_is_not_blank(reproduced):
    plots = sorted((reproduced / "reports").rglob("*.png"))
    names = {p.relative_to(reproduced / "reports").as_posix() for p in plots}
    assert {
        "compare/heads.png",
        "compare/pairs.png",
        "compare/reliability.png",
        "curves.png",
        "leakage/pairs.png",
        "pca/variance.png",
        "pca/scatter.png",
        "pca/accuracy.png",
        "robustness/feature.png",
        "robustness/image.png",
        "robustness/adversarial.png",
        "robustness/adversarial_success.png",
        "confusion/disagreements.png",
        "confusion/label_issues.png",
    } <= names
    for head in HEADS:
        for kind in ("matrix", "per_class", "misclassified", "confident"):
            assert f"confusion/{head}_{kind}.png" in names
    blank = [p.name for p in plots if not _not_blank(p)]
    assert not blank, f"blank plots: {blank}"


def test_robustness_covers_every_head_on_the_same_grid(reproduced):
    result = json.loads((reproduced / "metrics" / "robustness.json").read_text())
    heads = result["heads"]
    assert set(heads) == HEADS
    assert set(heads["finetune"]["image"]) == {"gaussian_blur", "occlusion"} == set(heads["mlp"]["image"])
    assert set(heads["mlp"]["feature"]) == {"add_constant", "zero", "gaussian"}
    assert heads["knn"]["adversarial"] == {} and heads["glmnet"]["adversarial"]["fgsm"]
    for head in heads.values():
        for levels in head["image"].values():
            for score in levels.values():
                assert score["drop"] == pytest.approx(head["clean"] - score["accuracy"])


def test_rerun_of_robustness_embeds_nothing(reproduced):
    sh(reproduced, "dvc", "repro", "-f", "-s", "robustness")
    out = sh(reproduced, "dvc", "repro", "-f", "-s", "robustness")
    lines = [
        line
        for line in out.splitlines()
        if line.startswith("robustness: corruption") and "gaussian_blur@" in line
    ]
    assert lines and all(" 0 embedded" in line for line in lines)


def test_report_names_every_head(reproduced):
    page = (reproduced / "reports" / "index.html").read_text()
    for head in HEADS:
        assert f"<td>{head}</td>" in page
    assert page.count('<img src="data:image/') >= 14 + 4 * len(HEADS)
    for section in ('id="curves"', 'id="leakage"', "Holm", "verdict", "success rate", "ImageNet-C"):
        assert section in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_renders_in_headless_chromium(reproduced, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium package (see .ci/run)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    url = (reproduced / "reports" / "index.html").as_uri()
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*flags, "--virtual-time-budget=5000", "--dump-dom", url], capture_output=True, text=True, timeout=120
    ).stdout
    images = re.search(r'data-images="(\d+)"', dom)
    rendered = re.search(r'data-images-rendered="(\d+)"', dom)
    assert images and rendered, "the page's load script did not run"
    assert int(images.group(1)) >= 9 and rendered.group(1) == images.group(1)
    assert '<table class="comparison">' in dom

    shots = Path(os.environ.get("REPORT_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "report.png"
    subprocess.run(
        [*flags, "--window-size=1280,2400", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.is_file() and _not_blank(shot)
