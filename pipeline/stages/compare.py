"""Stage `compare`: every enabled head on the same test rows, with paired statistics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..analysis.compare import Comparison, compare_heads, render_markdown
from ..config import CompareParams, enabled_heads
from ..figures.compare import plot_comparison, plot_pairs, plot_reliability
from ..params import Params
from ..predictions import read_all_heads


def run(
    *,
    heads: list[str],
    params: CompareParams,
    metrics_tpl: str,
    predictions_tpl: str,
    out_json: Path,
    out_summary: Path,
    out_md: Path,
    figures: Path,
) -> Comparison:
    predictions = read_all_heads(heads, predictions_tpl)
    metrics = {head: json.loads(Path(metrics_tpl.format(head=head)).read_text()) for head in heads}
    result = compare_heads(predictions, metrics, params.resamples, params.level, params.seed)
    result.write(out_json)
    out_summary.write_text(json.dumps(result.summary(), indent=2))
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text(render_markdown(result))
    figures.mkdir(parents=True, exist_ok=True)
    plot_comparison(result, figures / "heads.png")
    plot_pairs(result, figures / "pairs.png")
    plot_reliability(result, figures / "reliability.png")
    print(render_markdown(result))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="workbench compare", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--metrics", required=True, help="path template with {head}")
    parser.add_argument("--predictions", required=True, help="path template with {head}")
    parser.add_argument("--out-json", type=Path, required=True)
    parser.add_argument("--out-summary", type=Path, required=True, help="a few numbers per head")
    parser.add_argument("--out-md", type=Path, required=True)
    parser.add_argument(
        "--figures", type=Path, required=True, help="folder for heads, pairs, reliability PNGs"
    )
    args = parser.parse_args(argv)
    params = Params.load(args.params)
    run(
        heads=enabled_heads(params.mapping("heads")),
        params=params.block("compare", CompareParams),
        metrics_tpl=args.metrics,
        predictions_tpl=args.predictions,
        out_json=args.out_json,
        out_summary=args.out_summary,
        out_md=args.out_md,
        figures=args.figures,
    )
