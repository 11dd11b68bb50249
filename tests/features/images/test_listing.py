"""list_images: what a scan finds, and what it passes over with the reason."""

from __future__ import annotations

from pathlib import Path

from features.images.listing import list_images
from tests.conftest import make_image


def test_files_and_folders_with_every_skip_explained(tmp_path):
    folder = tmp_path / "in"
    a = make_image(folder / "x" / "a.png", 0)
    b = make_image(folder / "b.jpg", 1, fmt="JPEG")
    (folder / "notes.txt").write_text("not an image")
    (folder / "dangling.png").symlink_to(tmp_path / "gone.png")
    (folder / "loop").symlink_to(folder)  # a cycle: walked once, not forever
    linked = make_image(tmp_path / "elsewhere" / "c.png", 2)
    (folder / "linked").symlink_to(linked.parent)

    listing = list_images([folder, a, tmp_path / "absent.png", folder / "notes.txt"])

    assert listing.images == sorted([a, b, folder / "linked" / "c.png"])  # `a`, given twice, counts once
    assert listing.ignored == [folder / "notes.txt"]
    problems = dict(listing.problems)
    assert problems[folder / "dangling.png"] == f"dangling symlink to {tmp_path / 'gone.png'}"
    assert problems[tmp_path / "absent.png"] == "no such file or folder"
    assert problems[folder / "notes.txt"] == "not an image file extension"  # named explicitly: said


def test_what_is_not_a_regular_file_or_not_utf8_is_named_never_opened(tmp_path):
    import os

    folder = tmp_path / "in"
    good = make_image(folder / "a.png", 0)
    os.mkfifo(folder / "x.jpg")  # a reader that opened it would wait forever
    (folder / "loop.png").symlink_to(folder / "loop.png")
    bad_name = os.fsdecode(bytes(folder) + b"/bad\xff.png")
    make_image(Path(bad_name), 1)

    listing = list_images([folder, folder / "x.jpg"])

    assert listing.images == [good]
    problems = dict(listing.problems)
    assert problems[folder / "x.jpg"] == "not a regular file (a FIFO), never read"
    assert problems[folder / "loop.png"] == "symlink loop: the link leads back to itself"
    assert problems[folder / "bad\\xff.png"].startswith("its name is not valid UTF-8")
    assert all(str(path).encode("utf-8") for path, _ in listing.problems)  # every name can be written out
