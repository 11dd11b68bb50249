"""Stage `robustness`: every head on the same perturbed test inputs (features, images, attacks)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from features import FeatureStore

from ..analysis.robustness import RobustnessResult
from ..analysis.robustness_grid import TestSet, analyse_robustness
from ..config import BackboneParams, DataParams, EmbedParams, RobustnessParams, enabled_heads
from ..embeddings import load_embeddings
from ..exceptions import DataError
from ..figures.robustness import plot_robustness
from ..heads import Head, load_heads
from ..network import make_extractor
from ..params import Params


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
    extractor = make_extractor(backbone, embed)
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
    store = FeatureStore(embed.store)
    result = analyse_robustness(heads, test, params, extractor, store, embed.batch_size, embed.num_workers)
    result.write(metrics_path)
    plot_robustness(result, reports, chance=1 / len(emb.classes))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="workbench robustness", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--heads", required=True, help="head folder template with {head}")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--reports", type=Path, required=True)
    args = parser.parse_args(argv)
    params = Params.load(args.params)
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
