"""A task from a label table: a CSV or Parquet file of path, label and optionally split over data.root.

Every problem in the table stops prepare with a sentence that names the lines and the fix;
nothing is dropped without a word. Files that are missing or cannot be decoded are not the
table's fault: they go to data/excluded.csv with their reason, as in the folder layout.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from pathlib import Path

from ..exceptions import DataError
from .params import FOLDERS_MARKER, DataParams
from .scan import Candidate, Excluded
from .splits import SPLITS

TABLE_SUFFIXES = (".csv", ".parquet")
TWICE = (
    "one path listed twice with different labels or splits (multi-label is not a task this "
    "pipeline runs: keep one row per image)"
)
_LISTED = 10  # lines quoted in a message; the rest are counted


def uses_folders(params: DataParams) -> bool:
    """Whether the task is the class-per-folder layout (data.labels names the marker file)."""
    labels = Path(params.labels)
    if labels.suffix.lower() in TABLE_SUFFIXES:
        return False
    if labels == FOLDERS_MARKER or labels.name == FOLDERS_MARKER.name:
        return True
    raise DataError(
        f"data.labels: got {params.labels!r}; give a label table ({', '.join(TABLE_SUFFIXES)} with "
        f"columns {params.columns.path!r}, {params.columns.label!r} and optionally "
        f"{params.columns.split!r}), or {FOLDERS_MARKER} for one sub-folder of data.root per class"
    )


def table_candidates(params: DataParams, root: Path) -> tuple[list[Candidate], list[Excluded]]:
    """The images the table names, each with its label and given split (None without a split
    column), and the rows that repeat an earlier one (excluded, with the line they repeat)."""
    table = Path(params.labels).expanduser()
    names, rows = read_table(table)
    columns = params.columns
    for key, name in (("path", columns.path), ("label", columns.label)):
        if name not in names:
            raise DataError(
                f"{table}: no column {name!r} (data.columns.{key}); its columns are {names}. "
                f"Name the right one: -S data.columns.{key}=COLUMN"
            )
    has_split = columns.split in names
    problems: dict[str, list[str]] = defaultdict(list)
    candidates, repeated, first_line = [], [], {}
    for line, row in rows:
        path, label = (row.get(columns.path) or "").strip(), (row.get(columns.label) or "").strip()
        split = (row.get(columns.split) or "").strip() if has_split else None
        if not path:
            problems["an empty path"].append(f"line {line}")
            continue
        if not label:
            problems["an empty label"].append(f"line {line} ({path})")
        if has_split and split not in SPLITS:
            problems[f"a split outside {list(SPLITS)}"].append(f"line {line}: {split!r}")
        where = _inside_root(path, root, params.outside_root)
        if where is not None:
            problems[where].append(f"line {line}: {path}")
            continue
        candidate = Candidate(path, label, split, f"{table.name} line {line}")
        earlier = first_line.get(_normal(path))
        if earlier is None:
            first_line[_normal(path)] = (line, candidate)
            candidates.append(candidate)
        elif (earlier[1].label, earlier[1].split) != (label, split):
            before = f"line {earlier[0]} {earlier[1].label!r}" + (f"/{earlier[1].split}" if has_split else "")
            now = f"line {line} {label!r}" + (f"/{split}" if has_split else "")
            problems[TWICE].append(f"{path}: {before}, {now}")
        else:
            again = f"listed again on line {line} of {table.name} (first on line {earlier[0]})"
            repeated.append(Excluded(path, again))
    if problems:
        raise DataError(f"{table}: " + "; ".join(_listing(what, lines) for what, lines in problems.items()))
    if not candidates:
        raise DataError(f"{table} lists no images")
    return candidates, repeated


def read_table(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """(column names, [(line number, row)]) of a CSV (any encoding of UTF-8, with or without a
    BOM) or a Parquet file; line numbers count the header as line 1."""
    if not path.is_file():
        raise DataError(
            f"data.labels: {path} not found. Give the label table's path (relative to the project or "
            "absolute): dvc exp run -S data.labels=PATH"
        )
    if path.suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DataError(
                f"data.labels: reading {path.name} needs pyarrow: pip install -e '.[parquet]' (or give a CSV)"
            ) from None
        table = pq.read_table(path)
        names = _unique(table.column_names, path)
        data = {n: [None if v is None else str(v) for v in table.column(n).to_pylist()] for n in names}
        return names, [(i + 2, {n: data[n][i] for n in names}) for i in range(table.num_rows)]
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            names = _unique(list(reader.fieldnames or []), path)
            rows = [(reader.line_num, row) for row in reader]
            return names, rows
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"data.labels: {path} is not a UTF-8 CSV table ({exc})") from exc


def _unique(names: list[str], path: Path) -> list[str]:
    """The header's names, refused when one repeats: a reader keeps only the last such column."""
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(
            f"data.labels: {path} names the column(s) {repeated} more than once (its header: {names}); "
            "rename or remove the repeats, so each column means one thing"
        )
    return names


def check_given_split(candidates: list[Candidate], table: str) -> None:
    """With a given split, every class a head is tested on needs train images."""
    by_class: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SPLITS, 0))
    for c in candidates:
        by_class[c.label][c.split] += 1
    untrained = [f"{label!r} ({counts['valid']} valid, {counts['test']} test)"
                 for label, counts in sorted(by_class.items()) if counts["train"] == 0]  # fmt: skip
    if untrained:
        raise DataError(
            f"{table}: the split it gives leaves classes with no train image, which no head can learn: "
            f"{', '.join(untrained)}. Each class needs at least 1 train image: give them some, or remove "
            "their rows"
        )
    if not any(c.split == "test" for c in candidates):
        raise DataError(f"{table}: the split it gives has no test image; mark some rows 'test'")


def _inside_root(path: str, root: Path, outside_root: bool) -> str | None:
    """Why `path` may not be used (absolute, or out of data.root through ..), or None."""
    if outside_root:
        return None
    if Path(path).is_absolute():
        return "absolute paths (allowed with data.outside_root: true)"
    # realpath, not Path.resolve: a symlink loop is reported where the file is read, not raised here
    resolved = Path(os.path.realpath(root / path))
    if not resolved.is_relative_to(os.path.realpath(root)):
        return f"paths that leave data.root {str(root)!r} through '..' (allowed with data.outside_root: true)"
    return None


def _normal(path: str) -> str:
    return Path(path).as_posix()


def _listing(what: str, lines: list[str]) -> str:
    shown = "; ".join(lines[:_LISTED])
    more = f"; and {len(lines) - _LISTED} more" if len(lines) > _LISTED else ""
    return f"{len(lines)} rows with {what}: {shown}{more}"
