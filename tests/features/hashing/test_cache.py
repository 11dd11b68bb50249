"""The hash cache: unchanged files are not read again, changed ones are, unreadable ones are named."""

from __future__ import annotations

import os

from features.extraction.extract import extract
from features.hashing import cache as module
from features.hashing.cache import HashCache, hash_files
from features.hashing.digest import sha256_file
from features.store.open import open_store
from tests.conftest import make_image


def _count_reads(monkeypatch) -> list[str]:
    reads: list[str] = []

    def counting(path):
        reads.append(str(path))
        return sha256_file(path)

    monkeypatch.setattr(module, "sha256_file", counting)
    return reads


def test_unchanged_files_are_not_read_again(tmp_path, monkeypatch):
    paths = [str(make_image(tmp_path / f"{i}.png", seed=i)) for i in range(5)]
    cache = HashCache(tmp_path / "hashes.sqlite")
    reads = _count_reads(monkeypatch)
    first, errors = hash_files(paths, cache)
    assert first == [sha256_file(p) for p in paths] and errors == {}
    assert sorted(reads) == sorted(paths)
    reads.clear()
    again, _ = hash_files(paths, cache)
    assert again == first and reads == []


def test_a_file_is_known_whatever_the_working_directory(tmp_path, monkeypatch):
    path = make_image(tmp_path / "images" / "a.png", seed=1)
    cache = HashCache(tmp_path / "hashes.sqlite")
    monkeypatch.chdir(tmp_path)
    hash_files(["images/a.png"], cache)
    monkeypatch.chdir(tmp_path / "images")
    reads = _count_reads(monkeypatch)
    assert hash_files(["a.png", "./a.png", str(path)], cache)[0] == [sha256_file(path)] * 3
    assert reads == []


def test_a_changed_file_is_hashed_again(tmp_path, monkeypatch):
    path = make_image(tmp_path / "a.png", seed=1)
    cache = HashCache(tmp_path / "hashes.sqlite")
    (before,), _ = hash_files([str(path)], cache)
    stat = os.stat(path)
    make_image(path, seed=2)  # same size, other pixels
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    reads = _count_reads(monkeypatch)
    (after,), _ = hash_files([str(path)], cache)
    assert reads == [str(path)] and after == sha256_file(path) != before


def test_unreadable_files_are_named_by_position(tmp_path):
    good = str(make_image(tmp_path / "good.png", seed=1))
    keys, errors = hash_files([good, str(tmp_path / "missing.png")], HashCache(tmp_path / "h.sqlite"))
    assert keys[0] == sha256_file(good) and keys[1] == ""
    assert list(errors) == [1] and "cannot read file" in errors[1]


def test_extract_keeps_the_cache_beside_the_store(tmp_path, small_extractor, monkeypatch):
    paths = [make_image(tmp_path / f"{i}.png", seed=i) for i in range(3)]
    store = open_store(tmp_path / "s")
    extract(paths, store, small_extractor, progress=False)
    assert (tmp_path / "s" / "hashes.sqlite").is_file()
    reads = _count_reads(monkeypatch)
    report = extract(paths, store, small_extractor, progress=False)
    assert reads == [] and (report.computed, report.reused) == (0, 3)


def test_extract_hashes_new_files_as_it_decodes_them(tmp_path, small_extractor, monkeypatch):
    paths = [make_image(tmp_path / f"{i}.png", seed=i) for i in range(4)]
    store = open_store(tmp_path / "s")
    reads = _count_reads(monkeypatch)
    report = extract(paths, store, small_extractor, batch_size=2, num_workers=0, progress=False)
    assert reads == []  # no hashing pass before decoding: the decoder hashed the bytes it read
    assert report.keys == [sha256_file(p) for p in paths] and report.computed == 4
    cached = store.hash_cache().lookup([str(p) for p in paths])
    assert [cached[str(p)][-1] for p in paths] == report.keys  # and the next run only stats them


def test_a_new_path_to_stored_bytes_is_reused_not_embedded(tmp_path, small_extractor):
    original = make_image(tmp_path / "a.png", seed=1)
    store = open_store(tmp_path / "s")
    extract([original], store, small_extractor, progress=False)
    copies = [tmp_path / "b.png", tmp_path / "c.png"]
    for copy in copies:
        copy.write_bytes(original.read_bytes())
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    report = extract([*copies, bad], store, small_extractor, num_workers=0, progress=False)
    assert (report.computed, report.reused) == (0, 1)  # one distinct key, stored already
    assert [f.key for f in report.failures] == [sha256_file(bad)]  # recorded under its key
