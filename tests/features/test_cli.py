"""`python -m features extract|info` round trip in a real subprocess."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import SMALL


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "features", *args], capture_output=True, text=True)


def test_extract_then_info_then_reuse(tmp_path, image_folder):
    (image_folder / "cats" / "broken.jpg").write_bytes(b"")
    (image_folder / "notes.txt").write_text("not an image")
    store = tmp_path / "s.h5"
    args = [
        "extract",
        str(image_folder),
        "--store",
        str(store),
        "--weights",
        "none",
        "--device",
        "cpu",
        "--precision",
        "fp32",
        "--batch-size",
        "4",
        "--resize",
        str(SMALL),
        "--crop",
        str(SMALL),
    ]
    first = _run(*args)
    assert first.returncode == 0, first.stderr
    assert "15 computed, 0 reused, 1 failed" in first.stdout
    assert "broken.jpg: empty file" in first.stderr and "ignoring 1 files" in first.stderr

    info = _run("info", str(store))
    assert info.returncode == 0
    assert "15 vectors x 2048" in info.stdout and "random-init(seed=0)" in info.stdout
    assert "failures: 1" in info.stdout

    second = _run(*args)
    assert "0 computed, 15 reused" in second.stdout


def test_cli_errors_are_one_clear_line(tmp_path):
    result = _run("extract", str(tmp_path / "nowhere"), "--store", str(tmp_path / "s.h5"))
    assert result.returncode == 2 and "is not a folder" in result.stderr
    bad = _run("extract", str(tmp_path), "--store", "s.h5", "--precision", "fp8")
    assert bad.returncode == 2 and "invalid choice: 'fp8'" in bad.stderr
