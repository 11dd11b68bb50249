"""Stage `robustness`: every head on the same perturbed test inputs (features, images, attacks)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from features import FeatureStore, derived_key, extract, read_image

from ..analysis.adversarial import attack_accuracy
from ..analysis.corruptions import Corruption
from ..analysis.feature_noise import perturb
from ..config import BackboneParams, DataParams, EmbedParams, RobustnessParams
from ..embeddings import load_embeddings
from ..exceptions import DataError
from ..heads import Head, head_class, read_enabled_heads
from ..heads.base import pixel_normalizer
from ..params import read_block
from ..plots import plot_line_grid
from .embed import make_extractor


def _scored(accuracy: float, clean: float) -> dict:
    return {"accuracy": accuracy, "drop": clean - accuracy}


def run(
    heads: dict[str, Head],
    params: RobustnessParams,
    data: DataParams,
    backbone: BackboneParams,
    embed: EmbedParams,
    embeddings_path: Path,
    metrics_path: Path,
    reports: Path,
) -> dict:
    emb = load_embeddings(embeddings_path)
    test = np.flatnonzero(emb.split == "test")
    y_test = emb.label_names[test]
    root = Path(data.root).expanduser()
    paths = [str(root / p) for p in emb.paths[test]]
    X_test = emb.vectors[test]
    embedding_heads = {n: h for n, h in heads.items() if h.input_kind == "embeddings"}
    image_heads = {n: h for n, h in heads.items() if h.input_kind == "images"}

    def accuracy(head: Head, X, perturbation=None) -> float:
        proba = head.predict_proba(X) if perturbation is None else head.predict_proba(X, perturb=perturbation)
        return float((head.classes_[proba.argmax(1)] == y_test).mean())

    clean = {n: accuracy(h, X_test if h.input_kind == "embeddings" else paths) for n, h in heads.items()}
    results = {n: {"clean": clean[n], "feature": {}, "image": {}, "adversarial": {}} for n in heads}
    notes = [f"feature-space perturbations apply to embedding heads only, not to {n}" for n in image_heads]

    # Feature space: one perturbed matrix per (kind, level), shared by every embedding head.
    spread = emb.vectors[emb.split == "train"].std(axis=0)
    grid = [("add_constant", c) for c in params.feature.add_counts]
    grid += [("zero", c) for c in params.feature.zero_counts]
    grid += [("gaussian", s) for s in params.feature.gaussian_levels]
    for kind, level in grid:
        if kind != "gaussian" and level > X_test.shape[1]:
            raise DataError(f"robustness.feature: {level} features asked of {X_test.shape[1]}-d embeddings")
        Xp = perturb(X_test, kind, level, spread, params.seed, constant=params.feature.add_value)
        for name, head in embedding_heads.items():
            results[name]["feature"].setdefault(kind, {})[f"{level:g}"] = _scored(
                accuracy(head, Xp), clean[name]
            )

    # Image space: corrupted test images, embedded under keys of their own in the store.
    extractor = make_extractor(backbone, embed)
    if extractor.fingerprint != emb.fingerprint:
        raise DataError(f"{embeddings_path} was made by another extractor; run `dvc repro embed` first")
    store = FeatureStore(embed.store)
    keys = list(emb.keys[test])
    for kind in params.corruptions:
        for severity in params.severities:
            start = time.perf_counter()
            corruption = Corruption(kind, severity, keys)
            corrupted_keys = [derived_key(k, corruption.name) for k in keys]
            report = extract(
                paths,
                store,
                extractor,
                keys=corrupted_keys,
                transform=corruption,
                batch_size=embed.batch_size,
                num_workers=embed.num_workers,
                progress=False,
            )
            if report.failures:
                raise DataError(f"{len(report.failures)} corrupted images failed: {report.failures[:3]}")
            vectors = store.get(extractor.fingerprint, corrupted_keys)
            for name, head in embedding_heads.items():
                results[name]["image"].setdefault(kind, {})[str(severity)] = _scored(
                    accuracy(head, vectors), clean[name]
                )
            for name, head in image_heads.items():
                results[name]["image"].setdefault(kind, {})[str(severity)] = _scored(
                    accuracy(head, paths, corruption), clean[name]
                )
            print(
                f"robustness: {corruption.name}: {report.computed} embedded, {report.reused} reused, "
                f"{time.perf_counter() - start:.1f}s",
                flush=True,
            )

    # Adversarial: white-box attacks through backbone and head, in [0, 1] pixel space.
    attacked = np.random.default_rng(params.seed).permutation(len(test))[: params.adversarial.images]
    for name, head in heads.items():
        module = head.differentiable()
        if module is None:
            notes.append(f"{name} has no differentiable form; no gradient attack")
            continue
        start = time.perf_counter()
        model, prep = _pixel_model(head, module, extractor)
        images = torch.stack([prep.to_uint8(read_image(paths[i])) for i in attacked]).to(extractor.device)
        labels = torch.as_tensor(np.searchsorted(head.classes_, y_test[attacked])).to(extractor.device)
        adv = params.adversarial
        scores = attack_accuracy(
            model,
            images,
            labels,
            adv.epsilons,
            adv.pgd_steps,
            adv.pgd_epsilons,
            adv.batch_size,
            params.seed,
            extractor.precision,
        )
        base = scores["clean"]
        results[name]["adversarial"] = {
            "images": len(attacked),
            "clean": base,
            **{a: {eps: _scored(v, base) for eps, v in scores[a].items()} for a in ("fgsm", "pgd")},
        }
        print(f"robustness: attacks on {name}: {scores}, {time.perf_counter() - start:.1f}s", flush=True)

    out = {"n_test": len(test), "seed": params.seed, "heads": results, "notes": notes}
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(out, indent=2))
    _plot(results, reports, 1 / len(emb.classes))
    return out


def _pixel_model(head: Head, module: nn.Module, extractor) -> tuple[nn.Module, object]:
    """[0, 1] pixels to logits, and the preprocessing that sizes its input images."""
    if head.input_kind == "images":
        return module.to(extractor.device).requires_grad_(False), head.preprocessing_
    prep = extractor.backbone.preprocessing
    model = nn.Sequential(pixel_normalizer(prep), extractor.model, module)
    return model.to(extractor.device).eval().requires_grad_(False), prep  # gradients for inputs only


def _plot(results: dict, reports: Path, chance: float) -> None:
    reports.mkdir(parents=True, exist_ok=True)

    def panels(section: str) -> dict:
        out: dict[str, dict] = {}
        for head, r in results.items():
            for kind, levels in r[section].items():
                if isinstance(levels, dict):
                    out.setdefault(kind, {})[head] = {lv: v["accuracy"] for lv, v in levels.items()}
        return out

    plot_line_grid(
        panels("feature"),
        reports / "feature.png",
        "level (count, or noise / std)",
        "test accuracy",
        chance,
        "Feature-space perturbations of the test embeddings",
        names=list(results),
    )
    plot_line_grid(
        panels("image"),
        reports / "image.png",
        "severity",
        "test accuracy",
        chance,
        "Image corruptions of the test images",
        names=list(results),
    )
    attacks = {}
    for head, r in results.items():
        for attack in ("fgsm", "pgd"):
            if r["adversarial"].get(attack):
                attacks.setdefault(attack.upper(), {})[head] = {
                    "0": r["adversarial"]["clean"],
                    **{e: v["accuracy"] for e, v in r["adversarial"][attack].items()},
                }
    plot_line_grid(
        attacks,
        reports / "adversarial.png",
        "epsilon (pixel scale 0-1)",
        "accuracy on attacked images",
        chance,
        "White-box attacks through backbone and head",
        names=list(results),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline robustness", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--heads", required=True, help="head folder template with {head}")
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--reports", type=Path, required=True)
    args = parser.parse_args(argv)
    params = read_block("robustness", RobustnessParams, args.params)
    names = read_enabled_heads(args.params)
    heads = {n: head_class(n).load(Path(args.heads.format(head=n))) for n in names}
    run(
        heads,
        params,
        read_block("data", DataParams, args.params),
        read_block("backbone", BackboneParams, args.params),
        read_block("embed", EmbedParams, args.params),
        args.embeddings,
        args.metrics,
        args.reports,
    )
