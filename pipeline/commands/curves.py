"""Stage `curves`: every head's test accuracy against labelled images per class, no image embedded again."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..analysis.curves import CurvesResult, learning_curves
from ..artifacts.embeddings import load_embeddings
from ..data.params import DataParams
from ..figures.curves import plot_curves
from ..heads.base import Head, ImageHead
from ..heads.names import enabled_heads
from ..heads.registry import load_head
from ..params import Params, param
from .arguments import parse_stage


@dataclass(frozen=True)
class CurvesParams:
    """`curves`: learning curves from the cached embeddings (and the images, for finetune)."""

    # labelled train images per class; the whole train split is always added
    per_class: list[int] = param([1, 2, 5, 10, 20], min=1)
    draws: int = param(3, min=1)  # seeded draws per size, the same for every head
    finetune: bool = False  # the fine-tuned head too: a full fine-tune per point (GPU territory)
    resamples: int = param(1000, min=100)
    level: float = param(0.95, min=0.5, max=0.999)
    seed: int = param(0, min=0)
    # accuracies the label budget answers "how many labels per class" for
    targets: list[float] = param([0.9, 0.95, 0.99], gt=0.0, lt=1.0)


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
        emb.vectors,
        emb.images(data_root),
        emb.label_names,  # what train's heads predict
        emb.split,
        params.per_class,
        params.draws,
        params.seed,
        params.resamples,
        params.level,
    )
    result.add_label_budget(params.targets)
    result.write(metrics_path)
    plot_curves(result, figure)
    for name, points in result.heads.items():
        line = ", ".join(f"{p.per_class or 'all'}: {p.accuracy:.3f}" for p in points)
        print(f"curves {name}: {line}")
        if name in result.forecast:
            f, b = result.forecast[name], result.backtest[name]
            at = ", ".join(f"{k} {v['accuracy']:.3f} [{v['interval'][0]:.3f}, {v['interval'][1]:.3f}]"
                           for k, v in f.at.items())  # fmt: skip
            error = (
                f"backtest error {b.mean_absolute_error:.3f}" if b.mean_absolute_error is not None else b.note
            )
            print(f"curves {name}: forecast ({f.curve}) {at}; {error}")
    for note in result.notes:
        print(f"curves: {note}")
    return result


def curve_heads(params: Params, include_finetune: bool, heads_template: str) -> dict[str, Head]:
    """The enabled heads that learn from embeddings (and finetune where asked for), as train
    fitted them with the values it chose on the valid split (`heads_template` holds `{head}`)."""
    names = [n for n in enabled_heads(params.mapping("heads")) if n != "finetune" or include_finetune]
    heads = {name: load_head(heads_template.format(head=name)) for name in names}
    return dict(sorted(heads.items(), key=lambda kv: isinstance(kv[1], ImageHead)))  # cheap ones first


def main(argv: list[str] | None = None) -> None:
    params, args = parse_stage(
        "curves",
        __doc__,
        argv,
        paths={"embeddings": "", "metrics": "", "figure": ""},
        templates={"heads": "fitted heads' folders"},
    )
    curves = params.block("curves", CurvesParams)
    run(
        heads=curve_heads(params, curves.finetune, args.heads),
        params=curves,
        embeddings_path=args.embeddings,
        data_root=params.block("data", DataParams).root,
        metrics_path=args.metrics,
        figure=args.figure,
    )
