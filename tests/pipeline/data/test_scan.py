"""scan_folder: class folders, duplicates, undecodable files."""

from __future__ import annotations

import pytest

from pipeline.data.scan import scan_folder
from pipeline.exceptions import DataError
from tests.conftest import make_image


def test_scan_lists_every_image_with_its_class(image_folder):
    scan = scan_folder(image_folder)
    assert len(scan.items) == 15 and not scan.excluded
    assert {i.label for i in scan.items} == {"cats", "dogs", "red fish ü"}
    assert all(len(i.sha256) == 64 and "/" in i.path for i in scan.items)


def test_duplicate_within_a_class_keeps_the_first_and_reports_the_rest(image_folder):
    src = image_folder / "cats" / "img_00.png"
    (image_folder / "cats" / "zz_copy.png").write_bytes(src.read_bytes())
    scan = scan_folder(image_folder)
    assert len(scan.items) == 15
    assert [(e.path, e.reason) for e in scan.excluded] == [
        ("cats/zz_copy.png", "duplicate of cats/img_00.png")
    ]


def test_duplicate_across_classes_is_refused(image_folder):
    src = image_folder / "cats" / "img_00.png"
    (image_folder / "dogs" / "copy.png").write_bytes(src.read_bytes())
    with pytest.raises(DataError, match=r"cats/img_00\.png \(cats\), dogs/copy\.png \(dogs\)"):
        scan_folder(image_folder)


def test_undecodable_files_are_excluded_with_their_reason(image_folder):
    (image_folder / "dogs" / "empty.jpg").write_bytes(b"")
    (image_folder / "dogs" / "readme.txt").write_text("x")
    scan = scan_folder(image_folder)
    assert [(e.path, e.reason) for e in scan.excluded] == [("dogs/empty.jpg", "empty file (0 bytes)")]
    assert scan.ignored == ["dogs/readme.txt"]


def test_missing_root_says_how_to_fix(tmp_path):
    with pytest.raises(DataError, match="dvc repro download"):
        scan_folder(tmp_path / "absent")


def test_what_is_not_in_a_class_folder_is_named(image_folder):
    make_image(image_folder / "stray.png", 99)
    (image_folder / "README.txt").write_text("about these images")
    make_image(image_folder / ".thumbnails" / "cats" / "t.png", 98)
    scan = scan_folder(image_folder)
    assert ("stray.png", "directly under data.root, in no class folder: move it in one") in [
        (e.path, e.reason) for e in scan.excluded
    ]
    assert "README.txt" in scan.ignored and ".thumbnails/ (a hidden folder, not read)" in scan.ignored
    assert not any(i.path.startswith((".thumbnails", "stray")) for i in scan.items)


def test_a_decode_failure_recorded_by_another_decoder_is_tried_again(image_folder, tmp_path):
    from features.hashing.digest import sha256_file
    from features.store.failures import DECODER, Failure
    from features.store.open import open_store

    path = next(iter(sorted((image_folder / "cats").iterdir())))
    relative, key = path.relative_to(image_folder).as_posix(), sha256_file(path)
    store = open_store(tmp_path / "store")
    store.add_failures([Failure(str(path), "not an image Pillow can identify", key, decoder="Pillow 9.0.0")])
    assert relative in [item.path for item in scan_folder(image_folder, store=store).items]

    store.add_failures([Failure(str(path), "not an image Pillow can identify", key, decoder=DECODER)])
    excluded = {e.path: e.reason for e in scan_folder(image_folder, store=store).excluded}
    assert excluded[relative] == "not an image Pillow can identify"
