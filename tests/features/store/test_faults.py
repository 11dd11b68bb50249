"""The store under faults: damaged files, broken metadata, a read-only store; never a wrong vector.

Every damage test ends the same way: each key gives either its own vector or a reported
missing row, and the next extraction (here a put of the right vectors, as `extract` would
do for the keys it finds missing) leaves every vector right again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from features.cli import main as store_cli
from features.exceptions import StoreError
from features.hashing.cache import HashCache, hash_files, lookup_files
from features.hashing.keys import to_hex
from features.locking import try_lock
from features.store.base import MissingVectors
from features.store.open import open_store
from features.store.segment import OpenSegment, Segment

SPEC = {"arch": "test"}
N, DIM = 200, 8


def _keys(n: int, prefix: str = "k") -> list[str]:
    return [hashlib.sha256(f"{prefix}{i}".encode()).hexdigest() for i in range(n)]


@pytest.fixture
def stored(tmp_path):
    """A store of N random vectors in one segment, and what it holds."""
    store = open_store(tmp_path / "s")
    keys = _keys(N)
    vectors = np.random.default_rng(0).normal(size=(N, DIM)).astype(np.float32)
    store.put("fp", SPEC, keys, vectors)
    (segment,) = sorted((store.path / "fp").glob("*.h5"))
    return store.path, keys, vectors, segment


def _row_offset(segment: Path, row: int) -> int:
    """Byte offset of row `row`'s record in the segment file."""
    opened = Segment(segment)
    chunk, within = divmod(row, opened._chunk_rows)
    return int(opened._chunk_offsets()[chunk]) + within * opened._row_bytes


def _flip(path: Path, offset: int, n: int = 16) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        data = bytearray(handle.read(n))
        handle.seek(offset)
        handle.write(bytes(b ^ 0xFF for b in data))


def _never_wrong(path: Path, keys: list[str], vectors: np.ndarray) -> list[int]:
    """Read every key on its own from a fresh store: its own vector, or reported missing.
    Returns the rows reported missing."""
    store, missing = open_store(path), []
    for i, key in enumerate(keys):
        try:
            got = store.get("fp", [key])
        except MissingVectors:
            missing.append(i)
            continue
        np.testing.assert_array_equal(got[0], vectors[i])
    return missing


def _recompute(path: Path, keys: list[str], vectors: np.ndarray) -> None:
    """What the next extraction does: put what the store finds missing, then all is right."""
    store = open_store(path)
    lost = ~store.contains("fp", keys)
    store.put("fp", SPEC, [k for k, m in zip(keys, lost, strict=True) if m], vectors[lost])
    np.testing.assert_array_equal(open_store(path).get("fp", keys), vectors)


def test_flipped_bytes_in_a_vector_are_reported_never_returned(stored, caplog):
    path, keys, vectors, segment = stored
    _flip(segment, _row_offset(segment, 37) + 32 + 4 * 3)  # inside row 37's vector
    with pytest.raises(MissingVectors, match="failed their checks"):
        open_store(path).get("fp", keys)
    assert "1 row fails its checksum" in caplog.text and "moved to" in caplog.text
    assert _never_wrong(path, keys, vectors) == [37]  # only the damaged row is lost
    assert len(list((path / "quarantine").glob("*.h5"))) == 1
    _recompute(path, keys, vectors)


def test_a_flipped_key_index_is_caught_by_its_checksum_and_every_row_kept(stored):
    path, keys, vectors, segment = stored
    with h5py.File(segment, "r") as h5:
        index_offset = h5["index/keys"].id.get_offset()
    _flip(segment, index_offset + 32 * 50, 8)
    assert _never_wrong(path, keys, vectors) == []  # the rows themselves were good: all salvaged
    assert len(list((path / "quarantine").glob("*.h5"))) == 1


def test_swapped_index_entries_with_a_forged_checksum_never_swap_vectors(stored):
    """Two entries of the sorted index exchanged, and its checksum made to match: the key in
    each row is checked on reading, so neither image gets the other's vector."""
    path, keys, vectors, segment = stored
    from features.store.segment import index_crc

    with h5py.File(segment, "r+", locking=False) as h5:
        rows = h5["index/rows"][:]
        rows[[10, 11]] = rows[[11, 10]]
        h5["index/rows"][:] = rows
        h5.attrs["index_crc"] = index_crc(h5["index/keys"][:], rows)
    assert _never_wrong(path, keys, vectors) == []  # the rows carry their keys: all salvaged
    assert len(list((path / "quarantine").glob("*.h5"))) == 1


@pytest.mark.parametrize("damage", ["truncated", "zeroed", "emptied"])
def test_a_segment_cut_or_wiped_is_quarantined_and_only_its_vectors_recomputed(stored, damage, caplog):
    path, keys, vectors, segment = stored
    other = _keys(5, "other")
    open_store(path).put("fp", SPEC, other, np.ones((5, DIM)))  # a second segment, untouched
    size = segment.stat().st_size
    if damage == "truncated":
        os.truncate(segment, size // 2)
    elif damage == "zeroed":
        segment.write_bytes(b"\0" * size)
    else:
        segment.write_bytes(b"")
    store = open_store(path)
    assert (store.get("fp", other) == 1).all()  # the rest of the store keeps working
    assert not store.contains("fp", keys).any() and "quarantine" in caplog.text
    _recompute(path, keys, vectors)


def test_a_dead_writers_rows_that_fail_their_checks_are_not_published(tmp_path, caplog):
    store = open_store(tmp_path / "s")
    store.put("fp", SPEC, _keys(1, "first"), np.zeros((1, DIM)))
    keys, vectors = _keys(100), np.random.default_rng(1).normal(size=(100, DIM)).astype(np.float32)
    from features.hashing.keys import to_raw

    dead = OpenSegment(store.path / "fp" / "open" / "00000000000000000001-dead.h5", "fp", DIM)
    dead.append(to_raw(keys), vectors, [""] * 100)
    dead._h5.close()
    os.close(dead._lock_fd)  # the writer is gone; its file stays in open/
    _flip(dead.path, _row_offset_open(dead.path, 5) + 40)
    open_store(store.path).put("fp", SPEC, _keys(1, "second"), np.zeros((1, DIM)))  # recovers
    assert "recovered 99 rows committed; 1 row left out (checksum)" in caplog.text
    fresh = open_store(store.path)
    assert fresh.contains("fp", keys).tolist() == [i != 5 for i in range(100)]
    np.testing.assert_array_equal(fresh.get("fp", keys[:5]), vectors[:5])


def _row_offset_open(path: Path, row: int) -> int:
    offsets = {}
    with h5py.File(path, "r", locking=False) as h5:
        dataset = h5["rows"]
        dataset.id.chunk_iter(lambda info: offsets.__setitem__(info.chunk_offset[0], info.byte_offset))
        chunk_rows, size = dataset.chunks[0], dataset.dtype.itemsize
    return offsets[row // chunk_rows * chunk_rows] + row % chunk_rows * size


def test_a_segment_is_locked_before_recovery_can_see_it(tmp_path):
    store = open_store(tmp_path / "s")
    store.put("fp", SPEC, _keys(1), np.zeros((1, DIM)))
    creating = store.path / "fp" / "open" / ".00000000000000000001-live.h5.creating"
    creating.write_bytes(b"half made")  # a writer between creating its file and naming it
    store.recover("fp")
    assert creating.read_bytes() == b"half made"
    segment = OpenSegment(store.path / "fp" / "open" / "00000000000000000002-live.h5", "fp", DIM)
    assert try_lock(segment.path) is None  # visible only once locked
    store.recover("fp")
    assert segment.path.exists()
    segment.publish(store.path / "fp")


def test_verify_finds_the_damage_and_repair_quarantines_it(stored, capsys):
    path, keys, vectors, segment = stored
    assert store_cli(["verify", str(path)]) == 0
    assert "200 rows checked: no damage" in capsys.readouterr().out
    _flip(segment, _row_offset(segment, 3) + 40)
    (path / "store.json").write_text("{not json")
    assert store_cli(["verify", str(path)]) == 1
    out = capsys.readouterr().out
    assert "DAMAGED" in out and "1 of 200 rows fail their checksum" in out and "store.json" in out
    assert "--repair" in out
    assert store_cli(["verify", str(path), "--repair"]) == 0
    assert "quarantined" in capsys.readouterr().out
    assert store_cli(["verify", str(path)]) == 0
    assert "199 rows checked: no damage" in capsys.readouterr().out
    assert _never_wrong(path, keys, vectors) == [3]


# -- metadata -------------------------------------------------------------------------------


@pytest.mark.parametrize("marker", ["garbage", "deleted"])
def test_a_damaged_or_lost_store_json_is_rebuilt_from_the_folders(stored, marker, caplog):
    path, keys, vectors, _ = stored
    if marker == "garbage":
        (path / "store.json").write_bytes(b"\x00\xffnot json")
    else:
        (path / "store.json").unlink()
    store = open_store(path)
    store.put("fp", SPEC, _keys(1, "new"), np.zeros((1, DIM)))
    assert "store.json was" in caplog.text and "rebuilt" in caplog.text
    assert json.loads((path / "store.json").read_text())["format"] == "workbench-feature-store"
    np.testing.assert_array_equal(store.get("fp", keys), vectors)


def test_a_damaged_store_json_with_nothing_to_rebuild_from_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "s"
    path.mkdir()
    (path / "store.json").write_text("{")
    (path / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match=r"store\.json is damaged .*remove .*store\.json to start"):
        open_store(path).put("fp", SPEC, _keys(1), np.zeros((1, DIM)))


def test_a_damaged_spec_json_is_named_and_rewritten_by_the_next_write(stored, caplog):
    path, keys, vectors, _ = stored
    (path / "fp" / "spec.json").write_text("garbage")
    assert open_store(path).fingerprints() == {} and "spec.json cannot be read" in caplog.text
    open_store(path).put("fp", SPEC, _keys(1, "new"), np.zeros((1, DIM)))
    np.testing.assert_array_equal(open_store(path).get("fp", keys), vectors)


def test_a_damaged_hash_cache_is_set_aside_and_rebuilt(tmp_path, caplog):
    files = [tmp_path / f"f{i}.bin" for i in range(3)]
    for i, f in enumerate(files):
        f.write_bytes(bytes([i]) * 100)
    cache_path = tmp_path / "hashes.sqlite"
    cache_path.write_bytes(b"this is not a database" * 100)
    keys, _ = hash_files([str(f) for f in files], HashCache(cache_path))
    assert keys == [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    assert "was damaged" in caplog.text and list(tmp_path.glob("hashes.sqlite.damaged-*"))
    assert len(lookup_files([str(f) for f in files], HashCache(cache_path)).stale) == 0  # rebuilt


def test_a_file_rewritten_in_place_with_its_mtime_restored_is_hashed_again(tmp_path):
    image = tmp_path / "a.bin"
    image.write_bytes(b"a" * 64)
    cache = HashCache(tmp_path / "hashes.sqlite")
    (old,), _ = hash_files([str(image)], cache)
    before = image.stat()
    image.write_bytes(b"b" * 64)  # same size, another picture
    os.utime(image, ns=(before.st_atime_ns, before.st_mtime_ns))  # touch -r
    assert image.stat().st_mtime_ns == before.st_mtime_ns and image.stat().st_size == before.st_size
    (new,), _ = hash_files([str(image)], cache)
    assert new != old and new == hashlib.sha256(b"b" * 64).hexdigest()


def test_a_full_disk_under_the_hash_cache_is_a_warning(tmp_path, caplog):
    cache = HashCache(tmp_path / "hashes.sqlite")
    cache.remember([("/x", 1, 2, 3, 4, "0" * 64)])
    with _file_size_limit(cache.path.stat().st_size):
        cache.remember([(f"/f{i}", 1, 2, 3, 4, "0" * 64) for i in range(20_000)])
    assert "could not be updated" in caplog.text
    assert set(cache.lookup(["/x"])) == {"/x"}  # what it held is intact


@contextlib.contextmanager
def _file_size_limit(limit: int):
    import resource
    import signal

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past it fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


# -- a read-only store ----------------------------------------------------------------------


@pytest.fixture
def read_only_view(tmp_path):
    """A path where an existing store can be read and not written: its files' write bits
    cleared, or, for root (who writes regardless), a read-only bind mount of it."""

    def make(store_path: Path) -> Path:
        if os.geteuid() != 0:
            for p in [store_path, *store_path.rglob("*")]:
                p.chmod(p.stat().st_mode & ~0o222)
            return store_path
        view = tmp_path / "read-only-view"
        view.mkdir()
        mounted = subprocess.run(["mount", "--bind", str(store_path), str(view)], capture_output=True)
        if mounted.returncode != 0:
            pytest.skip(
                f"a read-only store needs a non-root user or mount: {mounted.stderr.decode().strip()}"
            )
        mounts.append(view)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
        return view

    mounts: list[Path] = []
    yield make
    for view in mounts:
        subprocess.run(["umount", str(view)], check=False)


def test_a_read_only_store_reads_and_refuses_new_vectors_before_decoding(
    tmp_path, small_extractor, read_only_view, monkeypatch
):
    from features.extraction.extract import extract
    from tests.conftest import make_folder

    images = make_folder(tmp_path / "images", {"a": 3, "b": 3})
    store_path = tmp_path / "store"
    first = extract(images, open_store(store_path), small_extractor, progress=False)
    view = read_only_view(store_path)
    store = open_store(view)
    assert not store.writable
    again = extract(images, store, small_extractor, progress=False)  # nothing to compute: works
    assert (again.computed, again.reused) == (0, 6)
    np.testing.assert_array_equal(
        store.get(small_extractor.fingerprint, again.keys),
        open_store(store_path).get(small_extractor.fingerprint, first.keys),
    )
    decoded = []
    import features.images.loader

    monkeypatch.setattr(features.images.loader, "read_keyed", lambda *a: decoded.append(a))
    new = make_folder(tmp_path / "new", {"c": 2}, start_seed=500)
    with pytest.raises(StoreError, match=r"is read-only .*2 of these images have no vector in it"):
        extract(images + new, store, small_extractor, num_workers=0, progress=False)
    assert decoded == []  # stopped before any image was decoded


# -- a full disk ----------------------------------------------------------------------------


def _extract_cli(images: Path, store: Path, limit: int | None, room_check: bool = True):
    """`python -m features extract` in a process of its own, its files capped at `limit` bytes;
    without `room_check`, the limit is met inside HDF5 rather than before it."""
    import sys

    def cap():
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    run = "import sys, features.store.segment as s; from features.cli import main; "
    if not room_check:
        run += "s.ensure_room = lambda *a: None; "
    args = ["extract", str(images), "--store", str(store), "--arch", "resnet18", "--weights", "none"]
    args += ["--resize", "64", "--crop", "64", "--batch-size", "2", "--precision", "fp32", "--device", "cpu"]
    args += ["--runtime", "torch"]  # the store's faults, not an export's
    return subprocess.run(
        [sys.executable, "-c", run + "sys.exit(main(sys.argv[1:]))", *args],
        preexec_fn=cap if limit else None,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    from tests.conftest import make_folder

    root = tmp_path_factory.mktemp("full-disk") / "images"
    make_folder(root, {"a": 75, "b": 75})  # 150 rows: three chunks of 64
    return root


@pytest.fixture(scope="module")
def clean_vectors(images, tmp_path_factory) -> dict[str, np.ndarray]:
    store = tmp_path_factory.mktemp("clean") / "store"
    assert _extract_cli(images, store, None).returncode == 0
    opened = open_store(store)
    (fp,) = opened.fingerprints()
    keys = to_hex(opened.stored_keys(fp).raw)
    return dict(zip(keys, opened.get(fp, keys), strict=True))


@pytest.mark.parametrize("limit_kib", [250, 420, 550])  # at the 1st, 2nd, 3rd chunk of rows
def test_a_full_disk_stops_with_the_message_and_a_rerun_gives_a_clean_runs_vectors(
    images, clean_vectors, tmp_path, limit_kib
):
    """The disk is a file-size limit here (RLIMIT_FSIZE: writes past it fail with EFBIG, as
    a full disk fails them with ENOSPC); `test_a_full_tmpfs` is the real full disk."""
    store = tmp_path / "store"
    full = _extract_cli(images, store, limit_kib * 1024)
    assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr[-2000:]
    assert "File too large" in full.stderr and "Nothing published is lost" in full.stderr
    before = _published(store)
    again = _extract_cli(images, store, None)
    assert again.returncode == 0, again.stderr[-2000:]
    after = _published(store)
    assert all(np.array_equal(after[k], v) for k, v in before.items())  # nothing published changed
    assert set(after) == set(clean_vectors)
    for key, vector in after.items():
        assert np.isfinite(vector).all()
        np.testing.assert_allclose(vector, clean_vectors[key], rtol=1e-5, atol=1e-6)


def _published(path: Path) -> dict[str, np.ndarray]:
    store = open_store(path)
    out = {}
    for fp, meta in store.fingerprints().items():
        for keys, vectors, _ in store.rows(fp) if meta["count"] else ():
            out.update(zip(keys, vectors, strict=True))
    return out


def test_a_full_tmpfs(images, clean_vectors, tmp_path):
    """A real full filesystem: a small tmpfs (root only; skipped elsewhere)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({made.stderr.decode().strip()}); the RLIMIT_FSIZE test covers it"
        )
    try:
        store = mount / "store"
        full = _extract_cli(images, store, None)
        assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr[-2000:]
        assert "No space left on device" in full.stderr and "Free space on that disk" in full.stderr
        before = _published(store)
        subprocess.run(["mount", "-o", "remount,size=8m", str(mount)], check=True)
        assert _extract_cli(images, store, None).returncode == 0
        after = _published(store)
        assert all(np.array_equal(after[k], v) for k, v in before.items())
        assert set(after) == set(clean_vectors)
        for key, vector in after.items():
            np.testing.assert_allclose(vector, clean_vectors[key], rtol=1e-5, atol=1e-6)
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_write_that_fails_inside_hdf5_never_publishes_a_wrong_vector(images, clean_vectors, tmp_path):
    """The fault of issue 20: a write HDF5 itself could not finish (the room check bypassed,
    so the limit is met inside the library). The file it leaves is never trusted: recovery
    keeps only rows that pass their checks, and a re-run ends with a clean run's vectors."""
    store = tmp_path / "store"
    failed = _extract_cli(images, store, 420 * 1024, room_check=False)
    assert failed.returncode != 0 and "File too large" in failed.stderr  # HDF5 may crash as it exits
    assert _extract_cli(images, store, None).returncode == 0
    after = _published(store)
    assert set(after) == set(clean_vectors)
    for key, vector in after.items():
        np.testing.assert_allclose(vector, clean_vectors[key], rtol=1e-5, atol=1e-6)


def test_an_extraction_skips_what_another_writer_published_meanwhile(tmp_path, small_extractor):
    """Two runs over one folder share the work: before each batch the local engine looks at
    segments published since it planned."""
    from features.engines.local import local_batches
    from features.extraction.plan import plan_extraction
    from features.extraction.recorder import Recorder
    from tests.conftest import make_folder

    images = [str(p) for p in make_folder(tmp_path / "images", {"a": 4, "b": 4})]
    store = open_store(tmp_path / "store")
    fp = small_extractor.fingerprint
    plan = plan_extraction(images, store, fp, None)
    other = open_store(store.path)  # another process, done first with half of the images
    half = [sha256 for sha256, _ in (_file_key(p) for p in images[:4])]
    other.put(fp, small_extractor.spec, half, np.zeros((4, small_extractor.dim)))
    from tqdm import tqdm

    with store.writer(fp, small_extractor.spec) as writer:
        recorder = Recorder(plan, writer, tqdm(disable=True))
        for batch in local_batches(plan, store, small_extractor, batch_size=2, num_workers=0):
            recorder.record(batch)
    report = recorder.finish(store)
    assert (report.computed, report.reused) == (4, 4)


def _file_key(path: str) -> tuple[str, str]:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest(), path
