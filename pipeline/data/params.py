"""The `data` params block: where the images are and how they are split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..params import param

# data.labels' default: no table, one sub-folder of data.root per class. A file in the
# project rather than null, so that dvc.yaml can always list data.labels as prepare's dep.
FOLDERS_MARKER = Path("data/class-folders.txt")


@dataclass(frozen=True)
class SplitParams:
    train: float = param(0.6, min=0.0, max=1.0)
    valid: float = param(0.2, min=0.0, max=1.0)
    test: float = param(0.2, min=0.0, max=1.0)

    def __post_init__(self) -> None:
        total = self.train + self.valid + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1, got {total:g}")
        if self.train == 0 or self.test == 0:
            raise ValueError("split.train and split.test must be above 0")


@dataclass(frozen=True)
class NearDuplicateParams:
    """`data.near_duplicates`: copies of one picture (resized, re-encoded) found by embedding similarity."""

    threshold: float = param(0.85, min=0.0, max=1.0)  # cosine of whitened embeddings above which two match
    components: int = param(128, min=2)  # PCA-whitening components
    group: bool = False  # true: prepare embeds first and keeps each group of near-duplicates in one split


@dataclass(frozen=True)
class LabelColumns:
    """`data.columns`: the label table's column names."""

    path: str = "path"  # relative to data.root (or absolute, with data.outside_root)
    label: str = "label"
    split: str = "split"  # optional: train / valid / test; without it prepare splits (seeded, stratified)


@dataclass(frozen=True)
class DataParams:
    """`data`: where the images are, how they are labelled and split (read by prepare)."""

    root: str
    labels: str = str(FOLDERS_MARKER)  # a .csv or .parquet table over root, or the marker: class folders
    columns: LabelColumns = param(LabelColumns())
    outside_root: bool = False  # let the table name absolute paths, or leave root through ..
    split: SplitParams = param(SplitParams())
    seed: int = param(0, min=0)
    near_duplicates: NearDuplicateParams = param(NearDuplicateParams())
