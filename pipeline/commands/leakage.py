"""Stage `leakage`: near-duplicate images across splits, found by similarity of their embeddings."""

from __future__ import annotations

from pathlib import Path

from ..analysis.near_duplicates import LeakageResult, find_leakage
from ..artifacts.embeddings import load_embeddings
from ..data.params import DataParams
from ..figures.leakage import plot_cross_split_pairs
from ..figures.plots import thumbnails
from .arguments import parse_stage

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
        f"images ({result.search} search); {len(result.cross_split)} pairs cross splits"
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
    files = ("embeddings", "metrics", "reports")
    params, args = parse_stage("leakage", __doc__, argv, paths=dict.fromkeys(files, ""))
    run(
        data=params.block("data", DataParams),
        embeddings_path=args.embeddings,
        metrics_path=args.metrics,
        reports=args.reports,
    )
