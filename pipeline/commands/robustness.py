"""Stage `robustness`: every head on the same perturbed test inputs (features, images, attacks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from features import FeatureStore

from ..analysis.corruptions import CORRUPTIONS
from ..analysis.robustness import RobustnessResult
from ..analysis.robustness_grid import TestSet, analyse_robustness
from ..artifacts.embeddings import load_embeddings
from ..data.params import DataParams
from ..embedding.params import BackboneParams, EmbedParams
from ..embedding.vectors import make_extractor
from ..exceptions import DataError
from ..figures.robustness import plot_robustness
from ..heads.base import Head
from ..heads.names import enabled_heads
from ..heads.registry import load_heads
from ..params import param
from .arguments import parse_stage


@dataclass(frozen=True)
class FeatureNoiseParams:
    # shares of the embedding's dimensions, so any backbone runs with them (at 2048-d: 102, 512,
    # 1024 features; the reference added 2 to 100 of 2048, and zeroed 600)
    add_fractions: list[float] = param([0.05, 0.1, 0.25], gt=0.0, max=1.0)
    add_value: float = 2.0
    zero_fractions: list[float] = param([0.3, 0.6, 0.9], gt=0.0, max=1.0)
    gaussian_levels: list[float] = param([0.5, 1.0, 2.0, 4.0], min=0.0)  # x each feature's train std


@dataclass(frozen=True)
class AdversarialParams:
    images: int = param(64, min=1)  # test images attacked (a seeded draw of the test rows)
    epsilons: list[float] = param([0.001, 0.002, 0.004, 0.008, 0.016], min=0.0, max=1.0)  # pixel units
    pgd_steps: int = param(10, min=1)  # step size 2.5 eps / steps (Madry et al.)
    pgd_epsilons: list[float] = param([0.004], min=0.0, max=1.0)
    batch_size: int = param(16, min=1)


@dataclass(frozen=True)
class RobustnessParams:
    seed: int = param(0, min=0)
    # test images perturbed and attacked: a seeded draw, the same for every head and perturbation
    # (all of them when the split is smaller). Feature noise is drawn on them too: it is cheap
    # for most heads, but k-NN's ten cells on 20,000 test rows were 3 minutes at 100,000 images.
    images: int = param(2000, min=1)
    feature: FeatureNoiseParams = param(FeatureNoiseParams())
    corruptions: list[str] = param(list(CORRUPTIONS), choices=CORRUPTIONS)
    severities: list[int] = param([1, 3, 5], min=1, max=5)
    adversarial: AdversarialParams = param(AdversarialParams())


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
    store = FeatureStore(embed.store)
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
