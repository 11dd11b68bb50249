"""Stage `compare`: every enabled head on the same test rows, with paired statistics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..analysis.compare import Comparison, compare_heads, render_markdown
from ..artifacts.predictions import read_all_heads
from ..figures.compare import plot_comparison, plot_pairs, plot_reliability
from ..heads.names import enabled_heads
from ..params import param
from .arguments import parse_stage


@dataclass(frozen=True)
class CompareParams:
    resamples: int = param(2000, min=100)
    level: float = param(0.95, min=0.5, max=0.999)
    seed: int = param(0, min=0)


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
    params, args = parse_stage(
        "compare",
        __doc__,
        argv,
        paths={"out-json": "", "out-summary": "a few numbers per head", "out-md": "",
               "figures": "folder for heads, pairs, reliability PNGs"},
        templates={"metrics": "each head's metrics", "predictions": "each head's predictions"},
    )  # fmt: skip
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
