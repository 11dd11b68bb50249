"""`python -m features extract|info` round trip in a real subprocess."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import SMALL


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "features", *args], capture_output=True, text=True)


def test_extract_then_info_then_reuse(tmp_path, image_folder):
    (image_folder / "cats" / "broken.jpg").write_bytes(b"")
    (image_folder / "notes.txt").write_text("not an image")
    store = tmp_path / "s"
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
    assert "runtime=" in info.stdout  # auto: whichever CPU runtime is fastest here

    second = _run(*args)
    assert "0 computed, 15 reused" in second.stdout


def test_failures_exit_1_with_one_line_and_usage_errors_exit_2(tmp_path):
    result = _run("extract", str(tmp_path / "nowhere"), "--store", str(tmp_path / "s"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"SKIPPED {tmp_path / 'nowhere'}: no such file or folder" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: no image files in")
    bad = _run("extract", str(tmp_path), "--store", "s", "--precision", "fp8")
    assert bad.returncode == 2 and "invalid choice: 'fp8'" in bad.stderr
    assert _run("export", "--help").returncode == 0


def test_export_npz_and_parquet_hold_keys_vectors_and_paths(tmp_path, image_folder, small_extractor):
    import pyarrow.parquet as pq

    from features.extraction.extract import extract
    from features.store.open import open_store

    store = open_store(tmp_path / "s")
    paths = sorted(image_folder.rglob("*.png"))
    report = extract(paths, store, small_extractor, batch_size=4, num_workers=0, progress=False)
    expected = store.get(report.fingerprint, report.keys)

    assert _run("export", str(store.path), "--out", str(tmp_path / "v.npz")).returncode == 0
    npz = np.load(tmp_path / "v.npz")
    order = [list(npz["keys"]).index(k) for k in report.keys]
    np.testing.assert_array_equal(npz["vectors"][order], expected)
    assert list(npz["paths"][order]) == [str(p) for p in paths]
    assert str(npz["fingerprint"]) == report.fingerprint

    assert _run("export", str(store.path), "--out", str(tmp_path / "v.parquet")).returncode == 0
    table = pq.read_table(tmp_path / "v.parquet").to_pydict()
    rows = {
        key: (vector, path)
        for key, vector, path in zip(table["key"], table["vector"], table["path"], strict=True)
    }
    np.testing.assert_array_equal(np.array([rows[k][0] for k in report.keys], dtype=np.float32), expected)
    assert [rows[k][1] for k in report.keys] == [str(p) for p in paths]

    wrong = _run("export", str(store.path), "--out", str(tmp_path / "v.npz"), "--fingerprint", "nope")
    assert wrong.returncode == 1 and f"pass --fingerprint, one of: {report.fingerprint}" in wrong.stderr


def test_a_reader_that_goes_away_ends_it_quietly(tmp_path):
    """`workbench info STORE | head -1`: no BrokenPipeError traceback, the shell's exit code."""
    from features.store.open import open_store

    store = tmp_path / "s"
    open_store(store).put("fp", {"arch": "test"}, ["ab" * 32], np.zeros((1, 2), np.float32))
    child = subprocess.Popen(
        [sys.executable, "-m", "features", "info", str(store)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    child.stdout.close()  # the reader is gone before the first line is written
    assert child.wait(timeout=60) == 141 and b"Traceback" not in child.stderr.read()


def test_every_command_ends_by_one_ladder(capsys):
    """run_command: the exit code and the one line for each way a command can end."""
    from features.cli import run_command
    from features.exceptions import FeaturesError

    def raising(exc):
        def body():
            raise exc

        return body

    args = ((FeaturesError,), "error in x: ", "x: interrupted")
    assert run_command(lambda: None, *args) == 0 and run_command(lambda: 3, *args) == 3
    assert run_command(raising(FeaturesError("the reason")), *args) == 1
    assert capsys.readouterr().err == "error in x: the reason\n"
    assert run_command(raising(OSError(28, "No space left on device", "/full/f")), *args) == 1
    assert capsys.readouterr().err.startswith("error in x: no space left writing /full/f")
    assert run_command(raising(KeyboardInterrupt()), *args) == 130
    assert capsys.readouterr().err == "x: interrupted\n"
    with pytest.raises(ValueError):  # a bug is not dressed up as a failure
        run_command(raising(ValueError("bug")), *args)


def test_a_command_is_loaded_only_when_named():
    """The stages end through this CLI's ladder; they must not load (or depend on) the store's
    commands, the engines, verify or the exporter."""
    probe = (
        "import sys, pipeline.cli, features.cli; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('features'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = set(loaded.stdout.split())
    assert modules <= {
        "features",
        "features.cli",
        "features.exceptions",
        "features.store",
        "features.store.space",
    }

    listing = _run("--help")
    assert listing.returncode == 0 and "verify" in listing.stdout and "convert" in listing.stdout
    unknown = _run("fsck")
    assert unknown.returncode == 2 and "unknown command 'fsck'" in unknown.stderr
    help_text = _run("verify", "--help")
    assert help_text.returncode == 0 and "--repair" in help_text.stdout
