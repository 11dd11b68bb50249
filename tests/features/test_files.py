"""list_images: what a scan finds, and what it passes over with the reason."""

from __future__ import annotations

from features import list_images
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
