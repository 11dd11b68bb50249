"""The leakage figure: near-duplicate pairs that sit in different splits, side by side."""

from __future__ import annotations

from pathlib import Path

from ..analysis.near_duplicates import LeakageResult
from .plots import Thumbnails, plot_gallery


def plot_cross_split_pairs(result: LeakageResult, thumb: Thumbnails, path: Path, limit: int) -> None:
    """Up to `limit` pairs, two pairs per row, each image captioned with its split and label."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pairs = result.cross_split[:limit]
    images, captions, colors = [], [], []
    for pair in pairs:
        for rel, split, label in ((pair.a, pair.split_a, pair.label_a), (pair.b, pair.split_b, pair.label_b)):
            images.append(thumb(rel))
            captions.append(f"{split}: {label}\n{Path(rel).name} ({pair.similarity:.3f})")
            colors.append("tab:red" if split == "test" else "black")
    plot_gallery(
        images,
        captions,
        path,
        f"Near-duplicates across splits: {len(result.cross_split)} pairs; the {len(pairs)} most similar",
        cols=4,
        colors=colors,
    )
