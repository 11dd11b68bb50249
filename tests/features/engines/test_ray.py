"""The Ray engine on a local Ray: the local engine's keys, failures and vectors; resume; a killed actor."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time

import pytest

from features.cli import main as cli_main
from features.exceptions import ConfigError, FeaturesError
from features.extraction.extract import extract
from features.networks.extractor import create_extractor
from features.store.open import open_store
from tests.conftest import assert_same_vectors, make_folder, make_image

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
from features.engines.ray import run as extract_ray  # noqa: E402
from features.engines.ray_options import require_ray  # noqa: E402
from features.engines.settings import EngineSettings  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def tiny_extractor():
    # resnet18 at 32 px: the real network path, at a cost the suite can pay many times.
    return create_extractor("resnet18", "none", "cpu", "fp32", resize=32, crop=32)


def _folder_with_trouble(root):
    paths = make_folder(root, {"a": 6, "b": 6})
    duplicate = root / "b" / "copy_of_a0.png"
    duplicate.write_bytes(paths[0].read_bytes())
    corrupt = root / "b" / "corrupt.png"
    corrupt.write_bytes(paths[1].read_bytes()[:60])  # a truncated PNG
    return sorted(root.rglob("*.png"))


def test_same_keys_failures_and_vectors_as_the_local_engine(tmp_path, local_ray, tiny_extractor):
    paths = _folder_with_trouble(tmp_path / "images")
    local = extract(paths, open_store(tmp_path / "local"), tiny_extractor, batch_size=3, progress=False)
    store = open_store(tmp_path / "ray")
    on_ray = extract_ray(paths, store, tiny_extractor, how=EngineSettings(batch_size=3), progress=False)
    assert on_ray.keys == local.keys
    assert (on_ray.computed, on_ray.reused) == (local.computed, local.reused) == (12, 0)
    assert [(f.path, f.reason) for f in on_ray.failures] == [(f.path, f.reason) for f in local.failures]
    assert [os.path.basename(f.path) for f in on_ray.failures] == ["corrupt.png"]
    ok = local.ok_keys
    fingerprint = tiny_extractor.fingerprint
    assert_same_vectors(store.get(fingerprint, ok), open_store(tmp_path / "local").get(fingerprint, ok))
    assert not store.contains(tiny_extractor.fingerprint, [f.key for f in on_ray.failures]).any()
    assert [f.path for f in store.failures()] == [f.path for f in on_ray.failures]

    again = extract_ray(paths, store, tiny_extractor, how=EngineSettings(batch_size=3), progress=False)
    assert (again.computed, again.reused) == (0, 12)


def test_bytes_stored_under_another_path_are_not_embedded_again(tmp_path, local_ray, tiny_extractor):
    originals = make_folder(tmp_path / "images", {"a": 3})
    store = open_store(tmp_path / "s")
    first = extract_ray(originals, store, tiny_extractor, how=EngineSettings(batch_size=2), progress=False)
    copies = []
    for i, path in enumerate(originals[:2]):  # new paths, so the driver cannot know their keys
        copies.append(tmp_path / "elsewhere" / f"copy{i}.png")
        copies[-1].parent.mkdir(exist_ok=True)
        copies[-1].write_bytes(path.read_bytes())
    twice = copies + [tmp_path / "elsewhere" / "copy0_again.png"]
    twice[-1].write_bytes(copies[0].read_bytes())
    again = extract_ray(twice, store, tiny_extractor, how=EngineSettings(batch_size=2), progress=False)
    assert (again.computed, again.reused, again.failures) == (0, 2, [])
    assert again.keys == first.keys[:2] + first.keys[:1]
    cached = store.hash_cache().lookup([str(p) for p in twice])  # hashed on the cluster, remembered
    assert [cached[str(p)][-1] for p in twice] == again.keys


def test_a_killed_actor_still_ends_with_every_vector(tmp_path, local_ray, tiny_extractor):
    paths = [make_image(tmp_path / "images" / f"{i:03d}.png", seed=i) for i in range(240)]
    store = open_store(tmp_path / "s")
    finished: dict = {}
    run = threading.Thread(
        target=lambda: finished.update(
            report=extract_ray(paths, store, tiny_extractor, how=EngineSettings(batch_size=1), progress=False)
        )
    )
    run.start()
    killed = _kill_an_embedding_actor(run, min_cpu_seconds=1.0)
    run.join()
    report = finished["report"]
    assert killed and report.failures == []
    assert store.contains(tiny_extractor.fingerprint, report.keys).all()
    clean = extract(paths, open_store(tmp_path / "clean"), tiny_extractor, progress=False)
    assert_same_vectors(
        store.get(tiny_extractor.fingerprint, clean.keys),
        open_store(tmp_path / "clean").get(tiny_extractor.fingerprint, clean.keys),
    )


def _kill_an_embedding_actor(run: threading.Thread, min_cpu_seconds: float) -> int:
    """SIGKILL a process running the embedding actor once it has worked a while, while `run` goes on.

    Gated on the actor's own CPU time rather than the clock, so a slow or a fast
    machine kills it mid-run alike; a process that exits between the look and
    the kill (Ray restarting or retiring it) is passed over.
    """
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert run.is_alive(), "the run ended before an actor could be killed: give it more images"
        for pid in (pid for pid in _pids() if b"_Embedder" in _cmdline(pid)):
            if _cpu_seconds(pid) >= min_cpu_seconds:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                return pid
        time.sleep(0.05)
    raise AssertionError("no embedding actor worked for a second within 120 s")


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def test_an_actor_with_another_extractor_stops_the_run(tmp_path, local_ray, tiny_extractor):
    path = make_image(tmp_path / "one.png", seed=1)
    other = create_extractor("resnet18", "none", "cpu", "fp32", resize=32, crop=32)
    other.config = dataclasses.replace(other.config, seed=1)  # what a node with other weights would build
    with pytest.raises(FeaturesError, match="a Ray actor could not start: a Ray actor built extractor"):
        extract_ray([path], open_store(tmp_path / "s"), other, progress=False)
    assert open_store(tmp_path / "s").fingerprints() == {}


def test_cli_engine_ray(tmp_path, local_ray, capsys):
    folder = tmp_path / "images"
    make_folder(folder, {"a": 3})
    args = ["extract", str(folder), "--store", str(tmp_path / "s"), "--arch", "resnet18", "--weights", "none"]
    args += ["--resize", "32", "--crop", "32", "--engine", "ray", "--precision", "fp32"]
    assert cli_main(args) == 0
    assert "3 images: 3 computed, 0 reused, 0 failed" in capsys.readouterr().out


def test_without_ray_the_engine_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match=r'pip install -e "\.\[ray\]"'):
        require_ray()
    assert cli_main(["extract", str(tmp_path), "--store", str(tmp_path / "s"), "--engine", "ray"]) == 1
    assert 'pip install -e ".[ray]"' in capsys.readouterr().err
