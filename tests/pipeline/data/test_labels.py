"""Tasks from label tables: the split a dataset ships with, many tasks over one pool, bad tables."""

from __future__ import annotations

import csv
import os
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.commands import embed, prepare
from pipeline.data.params import DataParams, LabelColumns
from pipeline.data.splits import read_splits
from pipeline.embedding.params import BackboneParams, EmbedParams
from pipeline.exceptions import DataError
from tests.conftest import SMALL, make_folder


@pytest.fixture
def pool(tmp_path) -> Path:
    """A pool of 24 images in no class folders: flat files named by number."""
    root = tmp_path / "pool"
    for i, path in enumerate(make_folder(tmp_path / "made", {"x": 24})):
        (root / "images").mkdir(parents=True, exist_ok=True)
        path.rename(root / "images" / f"{i:03d}.png")
    return root


def _table(path: Path, rows: list[dict], columns=("path", "label", "split")) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows({k: v for k, v in r.items() if k in columns} for r in rows)
    return path


def _rows(n: int = 24) -> list[dict]:
    """Three classes of 8; the dataset's own split: 4 train, 2 valid, 2 test per class."""
    split = ["train"] * 4 + ["valid"] * 2 + ["test"] * 2
    return [{"path": f"images/{i:03d}.png", "label": "abc"[i // 8], "split": split[i % 8]} for i in range(n)]


def _prepare(tmp_path, data: DataParams, store: Path | None = None):
    splits, excluded = tmp_path / "out" / "splits.csv", tmp_path / "out" / "excluded.csv"
    embed_params = EmbedParams(store=str(store), device="cpu", precision="fp32") if store else None
    prepare.run(params=data, splits_path=splits, excluded_path=excluded, embed=embed_params)
    with open(excluded, newline="") as handle:
        return read_splits(splits), [(r["path"], r["reason"]) for r in csv.DictReader(handle)]


def test_a_given_split_is_kept_row_by_row(tmp_path, pool):
    rows = _rows()
    table = _table(tmp_path / "labels.csv", rows)
    written, excluded = _prepare(tmp_path, DataParams(root=str(pool), labels=str(table)))
    assert excluded == []
    assert [(r.path, r.label, r.split, r.split_from) for r in written] == [
        (r["path"], r["label"], r["split"], "given") for r in rows
    ]


def test_without_a_split_column_the_split_is_seeded_and_stratified(tmp_path, pool):
    table = _table(tmp_path / "labels.csv", _rows(), columns=("path", "label"))
    written, _ = _prepare(tmp_path, DataParams(root=str(pool), labels=str(table)))
    assert {r.split_from for r in written} == {"seeded"}
    assert {(r.label, r.split) for r in written} == {
        (c, s) for c in "abc" for s in ("train", "valid", "test")
    }


def test_a_parquet_table_and_other_column_names(tmp_path, pool):
    pq = pytest.importorskip("pyarrow.parquet", reason="Parquet tables need pyarrow")
    import pyarrow as pa

    rows = _rows()
    table = tmp_path / "labels.parquet"
    pq.write_table(pa.table({"file": [r["path"] for r in rows], "species": [r["label"] for r in rows],
                             "fold": [r["split"] for r in rows]}), table)  # fmt: skip
    columns = LabelColumns(path="file", label="species", split="fold")
    written, _ = _prepare(tmp_path, DataParams(root=str(pool), labels=str(table), columns=columns))
    assert [(r.path, r.split) for r in written] == [(r["path"], r["split"]) for r in rows]


def test_two_tasks_over_one_pool_read_and_embed_its_images_once(tmp_path, pool, capsys):
    store = tmp_path / "store"
    fine = _table(tmp_path / "fine.csv", _rows())
    coarse = _table(tmp_path / "coarse.csv", [{**r, "label": "ab"[r["label"] == "c"]} for r in _rows()])
    backbone = BackboneParams(weights="none", resize=SMALL, crop=SMALL)
    embed_params = EmbedParams(store=str(store), device="cpu", precision="fp32", batch_size=8)
    for task in (fine, coarse):
        data = DataParams(root=str(pool), labels=str(task))
        _prepare(tmp_path, data, store)
        splits = tmp_path / "out" / "splits.csv"
        embed.run(
            data=data, backbone=backbone, params=embed_params, splits_path=splits, out=tmp_path / "e.h5"
        )
    out = capsys.readouterr().out
    assert "24 images read" in out and "0 images read, 24 known from the feature store" in out
    assert "embed: 24 images" in out and "0 computed, 24 reused" in out


def test_missing_and_undecodable_files_are_excluded_with_their_reason(tmp_path, pool):
    (pool / "images" / "broken.png").write_bytes(b"\x89PNG garbage")
    rows = _rows() + [
        {"path": "images/absent.png", "label": "a", "split": "train"},
        {"path": "images/broken.png", "label": "a", "split": "train"},
        {"path": "images/000.png", "label": "a", "split": "train"},  # the same row again
    ]
    table = _table(tmp_path / "labels.csv", rows)
    written, excluded = _prepare(tmp_path, DataParams(root=str(pool), labels=str(table)))
    assert len(written) == 24
    reasons = dict(excluded)
    assert "No such file" in reasons["images/absent.png"]
    assert reasons["images/broken.png"] == "not an image Pillow can identify"
    assert reasons["images/000.png"] == "listed again on line 28 of labels.csv (first on line 2)"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows, r"no column 'label' \(data\.columns\.label\); its columns are \['path', 'kind', "
                            r"'split'\]\. Name the right one: -S data\.columns\.label=COLUMN"),  # fmt: skip
        (lambda rows: [{**r, "label": "" if i in (3, 7) else r["label"]} for i, r in enumerate(rows)],
         r"2 rows with an empty label: line 5 \(images/003\.png\); line 9 \(images/007\.png\)"),
        (lambda rows: [{**r, "split": "val" if i == 4 else r["split"]} for i, r in enumerate(rows)],
         r"1 rows with a split outside \['train', 'valid', 'test'\]: line 6: 'val'"),
        (lambda rows: rows + [{**rows[0], "label": "b"}],
         r"one path listed twice with different labels .*: "
         r"images/000\.png: line 2 'a'/train, line 26 'b'/train"),
        (lambda rows: [{**r, "split": "test" if r["label"] == "c" and r["split"] == "train" else r["split"]}
                       for r in rows],
         r"leaves classes with no train image, which no head can learn: 'c' \(2 valid, 6 test\)"),
        (lambda rows: rows + [{"path": "../outside.png", "label": "a", "split": "train"}],
         r"paths that leave data\.root .* through '\.\.' \(allowed with data\.outside_root: true\): "
         r"line 26: \.\./outside\.png"),
        (lambda rows: rows + [{"path": "/etc/hostname.png", "label": "a", "split": "train"}],
         r"absolute paths \(allowed with data\.outside_root: true\): line 26: /etc/hostname\.png"),
    ],
)  # fmt: skip
def test_each_bad_table_stops_with_a_sentence(tmp_path, pool, change, message):
    rows = change(_rows())
    columns = ("path", "kind", "split") if "kind" in message else ("path", "label", "split")
    rows = [{**r, "kind": r["label"]} for r in rows] if "kind" in message else rows
    table = _table(tmp_path / "labels.csv", rows, columns)
    with pytest.raises(DataError, match=message):
        _prepare(tmp_path, DataParams(root=str(pool), labels=str(table)))


def test_a_class_too_small_for_a_seeded_split_is_named_with_the_minimum(tmp_path, pool):
    rows = [r for r in _rows() if r["label"] != "c" or r["path"] < "images/018"]  # c keeps 2 images
    table = _table(tmp_path / "labels.csv", rows, columns=("path", "label"))
    with pytest.raises(DataError, match=r"class 'c' has 2 image\(s\); a 3-way split needs at least 3"):
        _prepare(tmp_path, DataParams(root=str(pool), labels=str(table)))


def test_paths_outside_the_root_are_allowed_when_asked_for(tmp_path, pool):
    outside = make_folder(tmp_path / "elsewhere", {"a": 1}, start_seed=900)[0]
    rows = _rows() + [{"path": str(outside), "label": "a", "split": "train"}]
    table = _table(tmp_path / "labels.csv", rows)
    written, _ = _prepare(tmp_path, DataParams(root=str(pool), labels=str(table), outside_root=True))
    assert written[-1].path == str(outside) and len(written) == 25


def test_a_table_that_is_not_a_table_names_what_is_allowed(tmp_path, pool):
    with pytest.raises(DataError, match=r"data\.labels: got .*notes\.txt'; give a label table"):
        _prepare(tmp_path, DataParams(root=str(pool), labels=str(tmp_path / "notes.txt")))
    with pytest.raises(DataError, match=r"data\.labels: .*absent\.csv not found"):
        _prepare(tmp_path, replace(DataParams(root=str(pool)), labels=str(tmp_path / "absent.csv")))


def test_a_repeated_column_name_is_refused_naming_it(tmp_path, pool):
    table = tmp_path / "labels.csv"
    table.write_text("path,label,label\n" + "".join(f"{r['path']},{r['label']},x\n" for r in _rows()))
    with pytest.raises(DataError, match=r"names the column\(s\) \['label'\] more than once"):
        _prepare(tmp_path, DataParams(root=str(pool), labels=str(table)))


def test_a_fifo_and_a_symlink_loop_in_a_table_are_excluded_never_waited_on(tmp_path, pool):
    os.mkfifo(pool / "images" / "fifo.png")  # opening it for reading would wait for a writer forever
    (pool / "images" / "loop.png").symlink_to(pool / "images" / "loop.png")
    rows = _rows() + [
        {"path": "images/fifo.png", "label": "a", "split": "train"},
        {"path": "images/loop.png", "label": "a", "split": "train"},
    ]
    written, excluded = _prepare(
        tmp_path, DataParams(root=str(pool), labels=str(_table(tmp_path / "t.csv", rows)))
    )
    assert len(written) == 24
    reasons = dict(excluded)
    assert reasons["images/fifo.png"] == "cannot read file: not a regular file (a FIFO), never read"
    assert reasons["images/loop.png"] == "symlink loop: the link leads back to itself"
