"""artifacts/embeddings.h5: vectors in splits.csv row order with labels, splits and classes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..exceptions import DataError
from .feature_source import FeatureSource
from .image_inputs import ImageInputs

_STR = h5py.string_dtype()
BLOCK = 16_384  # rows of vectors written at a time: 128 MiB of 2048-d float32


@dataclass
class Embeddings:
    vectors: np.ndarray  # (n, dim) float32, or a StoredVectors view read a slice at a time
    labels: np.ndarray  # (n,) int, index into classes
    split: np.ndarray  # (n,) str: train / valid / test
    paths: np.ndarray  # (n,) str, relative to the data root
    keys: np.ndarray  # (n,) str, SHA-256 of the image bytes
    classes: list[str]
    fingerprint: str
    spec: dict
    recipe: dict = field(default_factory=dict)  # how to rebuild the extractor (FeatureSource)

    @property
    def source(self) -> FeatureSource:
        return FeatureSource(self.fingerprint, self.spec, self.recipe)

    def subset(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        mask = self.split == split
        return self.vectors[mask], self.labels[mask]

    @property
    def label_names(self) -> np.ndarray:
        return np.asarray(self.classes)[self.labels]

    def images(self, data_root: str | Path) -> ImageInputs:
        """Every row's image file, as an image head reads them."""
        root = Path(data_root).expanduser()
        return ImageInputs(np.array([str(root / p) for p in self.paths]), keys=np.asarray(self.keys))


def save_embeddings(path: Path, emb: Embeddings) -> None:
    """Write `emb`, its vectors a block of rows at a time: with `emb.vectors` a `StoredVectors`
    view, memory stays bounded however many images the task has."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as h5:
        vectors = h5.create_dataset("vectors", shape=emb.vectors.shape, dtype=np.float32)
        for start in range(0, len(vectors), BLOCK):
            vectors[start : start + BLOCK] = emb.vectors[start : start + BLOCK]
        h5.create_dataset("labels", data=emb.labels.astype(np.int64))
        for name in ("split", "paths", "keys"):
            h5.create_dataset(name, data=np.asarray(getattr(emb, name), dtype=object), dtype=_STR)
        h5.create_dataset("classes", data=np.asarray(emb.classes, dtype=object), dtype=_STR)
        h5.attrs["fingerprint"] = emb.fingerprint
        h5.attrs["spec"] = json.dumps(emb.spec, sort_keys=True)
        h5.attrs["recipe"] = json.dumps(emb.recipe, sort_keys=True)
    tmp.replace(path)  # readers never see a half-written file


def load_embeddings(path: Path) -> Embeddings:
    if not Path(path).is_file():
        raise DataError(f"{path} not found: run the embed stage first (dvc repro embed)")
    with h5py.File(path, "r") as h5:
        return Embeddings(
            vectors=h5["vectors"][:],
            labels=h5["labels"][:],
            split=h5["split"].asstr()[:].astype(str),
            paths=h5["paths"].asstr()[:].astype(str),
            keys=h5["keys"].asstr()[:].astype(str),
            classes=list(h5["classes"].asstr()[:]),
            fingerprint=str(h5.attrs["fingerprint"]),
            spec=json.loads(h5.attrs["spec"]),
            recipe=json.loads(h5.attrs.get("recipe", "{}")),
        )
