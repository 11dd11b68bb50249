"""The CPU runtimes: the same network as torch, vectors of their own fingerprint, one export."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys

import pytest
import torch

import features.networks.onnx_export
import features.networks.runtimes
from features.exceptions import ConfigError
from features.extraction.extract import extract
from features.networks.extractor import create_extractor
from features.networks.onnx_export import installed
from features.store.open import open_store
from tests.conftest import SMALL, assert_same_vectors, make_folder

CPU_RUNTIMES = [
    pytest.param(name, marks=pytest.mark.skipif(not installed(name), reason=f"{name} is not installed"))
    for name in ("onnxruntime", "openvino")
]


def _extractor(runtime: str, tmp_path, precision: str = "fp32"):
    return create_extractor(weights="none", device="cpu", precision=precision, resize=SMALL, crop=SMALL,
                            runtime=runtime, exports=tmp_path / "exports")  # fmt: skip


@pytest.fixture(scope="module")
def images():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return torch.randint(0, 256, (6, 3, SMALL, SMALL), dtype=torch.uint8)


@pytest.mark.parametrize("runtime", CPU_RUNTIMES)
def test_each_cpu_runtime_gives_torchs_vectors_under_a_fingerprint_of_its_own(runtime, tmp_path, images):
    reference, other = _extractor("torch", tmp_path), _extractor(runtime, tmp_path)
    expected, got = reference(images), other(images)
    assert_same_vectors(got, expected)
    cosine = (got * expected).sum(1) / ((got**2).sum(1) * (expected**2).sum(1)) ** 0.5
    assert cosine.min() > 0.99999
    assert other.spec["runtime"].startswith(f"{runtime} ") and "runtime" not in reference.spec
    assert other.fingerprint != reference.fingerprint
    assert other.config.runtime == runtime and reference.config.runtime == "torch"


@pytest.mark.parametrize("runtime", CPU_RUNTIMES)
def test_the_export_is_made_once_and_made_again_when_missing(runtime, tmp_path, monkeypatch):
    exports = []
    real = features.networks.onnx_export.torch.onnx.export
    monkeypatch.setattr(
        features.networks.onnx_export.torch.onnx, "export", lambda *a, **k: exports.append(1) or real(*a, **k)
    )
    _extractor(runtime, tmp_path)
    _extractor(runtime, tmp_path)
    assert len(exports) == 1 and len(list((tmp_path / "exports").glob("*.onnx"))) == 1
    for path in (tmp_path / "exports").glob("*.onnx"):
        path.unlink()
    _extractor(runtime, tmp_path)
    assert len(exports) == 2


def test_vectors_of_another_runtime_are_never_reused(tmp_path, image_folder, small_extractor):
    if not installed("onnxruntime"):
        pytest.skip("onnxruntime is not installed")
    store = open_store(tmp_path / "store")
    paths = sorted(image_folder.rglob("*.png"))
    first = extract(paths, store, small_extractor, progress=False)
    onnx = _extractor("onnxruntime", tmp_path)
    other = extract(paths, store, onnx, progress=False)
    again = extract(paths, store, _extractor("onnxruntime", tmp_path), progress=False)
    assert (first.computed, other.computed, other.reused) == (15, 15, 0)
    assert (again.computed, again.reused) == (0, 15)


def test_a_runtime_that_is_not_installed_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(features.networks.onnx_export.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        ConfigError, match=r"runtime onnxruntime: onnxruntime, onnx not installed; pip install"
    ):
        _extractor("onnxruntime", tmp_path)
    assert _extractor("auto", tmp_path).runtime == "torch"  # auto takes what is there


@pytest.mark.parametrize(
    ("bf16", "have", "precision", "expected"),
    [
        (True, {"onnxruntime", "openvino"}, "auto", ("openvino", "bf16")),
        (False, {"onnxruntime", "openvino"}, "auto", ("onnxruntime", "fp32")),
        (True, {"onnxruntime"}, "auto", ("torch", "bf16")),
        (False, {"openvino"}, "auto", ("openvino", "fp32")),
        (True, {"onnxruntime", "openvino"}, "fp32", ("onnxruntime", "fp32")),
        (False, set(), "auto", ("torch", "fp32")),
    ],
)
def test_auto_picks_the_fastest_runtime_installed_deterministically(
    monkeypatch, bf16, have, precision, expected
):
    monkeypatch.setattr(features.networks.runtimes, "_cpu_has_bf16", lambda: bf16)
    monkeypatch.setattr(features.networks.onnx_export, "installed", lambda name: name in have)
    monkeypatch.setattr(features.networks.onnx_export, "require", lambda name: None)
    runtime, device, resolved = features.networks.runtimes.resolve_runtime("auto", "cpu", precision)
    assert (runtime, resolved) == expected and device.type == "cpu"


def test_bad_runtime_choices_are_refused_before_anything_loads(monkeypatch):
    monkeypatch.setattr(features.networks.runtimes, "_cpu_has_bf16", lambda: False)
    monkeypatch.setattr(features.networks.onnx_export, "require", lambda name: None)
    runtime, _, precision = features.networks.runtimes.resolve_runtime("openvino", "cpu", "bf16")
    with pytest.raises(ConfigError, match="openvino computes bf16 only on CPUs with AVX-512 BF16"):
        features.networks.runtimes.check_runs_here(runtime, precision)
    assert features.networks.runtimes.resolve_runtime("openvino", "cpu", "auto")[2] == "fp32"
    with pytest.raises(ConfigError, match=r"runtime: got 'tensorrt'; choose from \['auto', 'torch'"):
        features.networks.runtimes.resolve_runtime("tensorrt", "cpu", "auto")
    if installed("onnxruntime"):
        with pytest.raises(ConfigError, match="no bf16 convolutions"):
            features.networks.runtimes.resolve_runtime("onnxruntime", "cpu", "bf16")


def test_a_broken_export_is_caught_against_torch(tmp_path, monkeypatch):
    if not installed("onnxruntime"):
        pytest.skip("onnxruntime is not installed")
    real = features.networks.onnx_export.open_network
    reversed_network = lambda *a: lambda x: real(*a)(x)[:, ::-1].copy()  # noqa: E731
    monkeypatch.setattr(features.networks.extractor, "open_network", reversed_network)
    with pytest.raises(ConfigError, match=r"runtime onnxruntime \(fp32\) does not give torch's vectors"):
        _extractor("onnxruntime", tmp_path)


def test_the_folder_layout_extraction_runs_on_a_cpu_runtime(tmp_path):
    """Through the whole path: decoding workers, batches, the recorder, the store."""
    if not installed("onnxruntime"):
        pytest.skip("onnxruntime is not installed")
    paths = make_folder(tmp_path / "images", {"a": 3, "b": 3})
    store = open_store(tmp_path / "store")
    report = extract(paths, store, _extractor("onnxruntime", tmp_path), batch_size=4, progress=False)
    assert report.computed == 6 and not report.failures


def test_a_full_disk_while_exporting_names_the_file_and_leaves_no_part(tmp_path):
    if not installed("onnxruntime"):
        pytest.skip("onnxruntime is not installed")

    def cap():  # a 1 MiB file-size limit: EFBIG, as a full disk gives ENOSPC
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20))

    images = make_folder(tmp_path / "images", {"a": 2})[0].parent
    args = ["extract", str(images), "--store", str(tmp_path / "store"), "--arch", "resnet18"]
    args += ["--weights", "none", "--resize", "32", "--crop", "32", "--runtime", "onnxruntime"]
    run = subprocess.run(
        [sys.executable, "-m", "features", *args], preexec_fn=cap, capture_output=True, text=True
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-2000:]
    assert "no space left writing" in run.stderr and ".onnx (File too large)" in run.stderr
    assert not list((tmp_path / "store").rglob("*.part"))
