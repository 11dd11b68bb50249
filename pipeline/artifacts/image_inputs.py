"""An image head's X: image files, and a perturbation applied as they are read (robustness)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from features.images.loader import ImageTransform


@dataclass(frozen=True)
class ImageInputs:
    """Rows of image paths that index like an array (`X[train]`), so an image head is fitted,
    searched and scored exactly as an embedding head is.

    `transform(image, position)` alters each image at the network's input size before the
    head sees it; `positions` are the rows' positions as the transform knows them, so a
    subset keeps each image's own perturbation (noise seeded per image).
    """

    paths: np.ndarray  # (n,) str
    transform: ImageTransform | None = None
    positions: np.ndarray | None = None  # None: 0..n-1
    keys: np.ndarray | None = None  # (n,) each file's content key, where the task knows them

    @classmethod
    def of(cls, X: ImageInputs | Sequence) -> ImageInputs:
        """`X` as ImageInputs: given as is, or any sequence of paths."""
        return X if isinstance(X, ImageInputs) else cls(np.array([str(p) for p in X]))

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, rows) -> ImageInputs:
        keys = None if self.keys is None else self.keys[rows]
        return ImageInputs(self.paths[rows], self.transform, self.where()[rows], keys)

    def where(self) -> np.ndarray:
        return np.arange(len(self.paths)) if self.positions is None else self.positions

    def perturbed(self, transform: ImageTransform) -> ImageInputs:
        return ImageInputs(self.paths, transform, self.positions)  # other pictures: no keys
