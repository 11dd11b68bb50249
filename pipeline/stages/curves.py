"""Stage `curves`: every head's test accuracy against labelled images per class, no image embedded again."""

from __future__ import annotations

import argparse
from pathlib import Path

from sklearn.base import clone

from ..analysis.curves import CurvesResult, learning_curves
from ..config import CurvesParams, DataParams, enabled_heads
from ..embeddings import load_embeddings
from ..figures.curves import plot_curves
from ..heads import Head, load_head
from ..params import Params


def run(
    *,
    heads: dict[str, Head],
    params: CurvesParams,
    embeddings_path: Path,
    data_root: str,
    metrics_path: Path,
    figure: Path,
) -> CurvesResult:
    emb = load_embeddings(embeddings_path)
    result = learning_curves(
        heads,
        lambda kind: emb.inputs(kind, data_root),
        emb.labels,
        emb.split,
        params.per_class,
        params.draws,
        params.seed,
        params.resamples,
        params.level,
    )
    result.write(metrics_path)
    plot_curves(result, figure)
    for name, points in result.heads.items():
        line = ", ".join(f"{p.per_class or 'all'}: {p.accuracy:.3f}" for p in points)
        print(f"curves {name}: {line}")
    for note in result.notes:
        print(f"curves: {note}")
    return result


def curve_heads(params: Params, include_finetune: bool, heads_template: str) -> dict[str, Head]:
    """The enabled heads that learn from embeddings (and finetune where asked for), unfitted,
    with the values train chose for them on the valid split (`heads_template` holds `{head}`)."""
    names = [n for n in enabled_heads(params.mapping("heads")) if n != "finetune" or include_finetune]
    heads = {name: clone(load_head(heads_template.format(head=name))) for name in names}
    return dict(sorted(heads.items(), key=lambda kv: kv[1].input_kind != "embeddings"))  # cheap ones first


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="workbench curves", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--heads", required=True, help="fitted heads' folders, with {head} for the name")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--figure", type=Path, required=True)
    args = parser.parse_args(argv)
    params = Params.load(args.params)
    curves = params.block("curves", CurvesParams)
    run(
        heads=curve_heads(params, curves.finetune, args.heads),
        params=curves,
        embeddings_path=args.embeddings,
        data_root=params.block("data", DataParams).root,
        metrics_path=args.metrics,
        figure=args.figure,
    )
