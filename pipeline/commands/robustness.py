"""Stage `robustness`: every head on the same perturbed test inputs (features, images, attacks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from features.store.open import open_store

from ..analysis.robustness import RobustnessResult
from ..analysis.robustness_grid import TestSet, analyse_robustness
from ..analysis.robustness_params import RobustnessParams
from ..artifacts.embeddings import load_embeddings
from ..data.params import DataParams
from ..embedding.params import BackboneParams, EmbedParams
from ..embedding.vectors import make_extractor
from ..exceptions import DataError
from ..figures.robustness import plot_robustness
from ..heads.base import Head
from ..heads.names import enabled_heads
from ..heads.registry import load_heads
from .arguments import parse_stage


def run(
    *,
    heads: dict[str, Head],
    params: RobustnessParams,
    data: DataParams,
    backbone: BackboneParams,
    embed: EmbedParams,
    embeddings_path: Path,
    metrics_path: Path,
    reports: Path,
) -> RobustnessResult:
    emb = load_embeddings(embeddings_path)
    store = open_store(embed.store)
    extractor = make_extractor(backbone, embed, store, emb.recipe.get("calibration"))
    if extractor.fingerprint != emb.fingerprint:
        raise DataError(f"{embeddings_path} was made by another extractor; run `dvc repro embed` first")
    for head in heads.values():
        head.check_features(emb.fingerprint)
    rows = np.flatnonzero(emb.split == "test")
    root = Path(data.root).expanduser()
    test = TestSet(
        vectors=emb.vectors[rows],
        paths=[str(root / p) for p in emb.paths[rows]],
        keys=list(emb.keys[rows]),
        labels=emb.label_names[rows],
        train_spread=emb.vectors[emb.split == "train"].std(axis=0),
    )
    result = analyse_robustness(heads, test, params, extractor, store, embed.batch_size, embed.num_workers)
    result.write(metrics_path)
    plot_robustness(result, reports, chance=1 / len(emb.classes))
    return result


def main(argv: list[str] | None = None) -> None:
    params, args = parse_stage(
        "robustness",
        __doc__,
        argv,
        paths=dict.fromkeys(("embeddings", "metrics", "reports"), ""),
        templates={"heads": "fitted heads' folders"},
    )
    settings = {
        "params": params.block("robustness", RobustnessParams),  # bad params stop before heads load
        "data": params.block("data", DataParams),
        "backbone": params.block("backbone", BackboneParams),
        "embed": params.block("embed", EmbedParams),
    }
    heads = load_heads(enabled_heads(params.mapping("heads")), args.heads)
    run(
        heads=heads,
        **settings,
        embeddings_path=args.embeddings,
        metrics_path=args.metrics,
        reports=args.reports,
    )
