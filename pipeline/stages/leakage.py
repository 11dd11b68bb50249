"""Stage `leakage`: near-duplicate images across splits, found by similarity of their embeddings."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..analysis.near_duplicates import LeakageResult, find_leakage
from ..config import DataParams
from ..embeddings import load_embeddings
from ..figures.leakage import plot_cross_split_pairs
from ..figures.plots import thumbnails
from ..params import read_block

GALLERY_PAIRS = 12


def run(*, data: DataParams, embeddings_path: Path, metrics_path: Path, reports: Path) -> LeakageResult:
    emb = load_embeddings(embeddings_path)
    near = data.near_duplicates
    result = find_leakage(
        emb.vectors, emb.paths, emb.split, emb.label_names, near.threshold, near.components, near.group
    )
    result.write(metrics_path)
    thumb = thumbnails(Path(data.root).expanduser())
    plot_cross_split_pairs(result, thumb, reports / "pairs.png", GALLERY_PAIRS)
    print(
        f"leakage: {result.pairs} near-duplicate pairs in {result.groups} groups among {result.n_images} "
        f"images; {len(result.cross_split)} pairs cross splits"
        + (
            ""
            if result.grouped or not result.cross_split
            else "; -S data.near_duplicates.group=true keeps each group in one split"
        )
    )
    for pair in result.cross_split[:5]:
        print(f"  {pair.similarity:.3f} {pair.a} ({pair.split_a}) ~ {pair.b} ({pair.split_b})")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="workbench leakage", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--reports", type=Path, required=True)
    args = parser.parse_args(argv)
    run(
        data=read_block("data", DataParams, args.params),
        embeddings_path=args.embeddings,
        metrics_path=args.metrics,
        reports=args.reports,
    )
