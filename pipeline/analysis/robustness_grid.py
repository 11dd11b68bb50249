"""Run the robustness grid: every head on the same perturbed test inputs, the same seeds."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from features.extraction.extract import extract_vectors
from features.hashing.digest import derived_key
from features.images.reading import read_image
from features.networks.extractor import Extractor
from features.store.base import Store

from ..artifacts.image_inputs import ImageInputs
from ..exceptions import DataError
from ..heads.base import EmbeddingHead, Head
from .adversarial import attack_accuracy
from .corruptions import Corruption
from .feature_noise import perturb
from .robustness import Attacks, AttackScore, HeadRobustness, RobustnessResult, scored
from .robustness_params import AdversarialParams, FeatureNoiseParams, RobustnessParams

log = logging.getLogger(__name__)


@dataclass
class TestSet:
    """The clean test rows every perturbation starts from."""

    __test__ = False  # not a pytest class, whatever its name

    vectors: np.ndarray
    paths: list[str]  # absolute image paths
    keys: list[str]  # content keys in the feature store
    labels: np.ndarray  # class names
    train_spread: np.ndarray  # per-feature std of the train embeddings

    @property
    def images(self) -> ImageInputs:
        return ImageInputs(np.array(self.paths))


def accuracy(head: Head, X, labels: np.ndarray) -> float:
    return float((head.predict(X) == labels).mean())


def feature_sweep(
    heads: dict[str, Head], test: TestSet, params: FeatureNoiseParams, seed: int
) -> dict[str, dict[str, dict[str, float]]]:
    """Embedding heads on one perturbed matrix per (kind, level), shared by every head."""
    dim = test.vectors.shape[1]
    grid = [("add_constant", feature_count(f, dim)) for f in params.add_fractions]
    grid += [("zero", feature_count(f, dim)) for f in params.zero_fractions]
    grid += [("gaussian", s) for s in params.gaussian_levels]
    out: dict[str, dict[str, dict[str, float]]] = {name: {} for name in heads}
    for kind, level in grid:
        X = perturb(test.vectors, kind, level, test.train_spread, seed, constant=params.add_value)
        for name, head in heads.items():
            out[name].setdefault(kind, {})[f"{level:g}"] = accuracy(head, X, test.labels)
    return out


def feature_count(fraction: float, dim: int) -> int:
    """How many of `dim` features a share touches: at least one."""
    return max(1, round(fraction * dim))


def sample(test: TestSet, images: int, seed: int) -> TestSet:
    """`images` test rows drawn by `seed` (all of them, in order, when there are no more), so
    every head and every perturbation sees the same ones."""
    if images >= len(test.paths):
        return test
    rows = np.sort(np.random.default_rng(seed).permutation(len(test.paths))[:images])
    return TestSet(test.vectors[rows], [test.paths[i] for i in rows], [test.keys[i] for i in rows],
                   test.labels[rows], test.train_spread)  # fmt: skip


def corruption_sweep(
    heads: dict[str, Head],
    test: TestSet,
    corruptions: Sequence[str],
    severities: Sequence[int],
    extractor: Extractor,
    store: Store,
    batch_size: int,
    num_workers: int | None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Every head on corrupted test images; embedding heads read them through the store.

    Corrupted images get keys derived from the clean key and the corruption, so a re-run
    embeds nothing.
    """
    out: dict[str, dict[str, dict[str, float]]] = {name: {} for name in heads}
    steps = len(corruptions) * len(severities)
    for step, (kind, severity) in enumerate(itertools.product(corruptions, severities), start=1):
        start = time.perf_counter()
        corruption = Corruption(kind, severity, test.keys)
        keys = [derived_key(k, corruption.store_tag) for k in test.keys]
        report, vectors = extract_vectors(
            test.paths,
            store,
            extractor,
            keys=keys,
            transform=corruption,
            batch_size=batch_size,
            num_workers=num_workers,
            progress=False,
        )
        if report.failures:
            raise DataError(f"{len(report.failures)} corrupted images failed: {report.failures[:3]}")
        images = test.images.perturbed(corruption)
        for name, head in heads.items():
            X = head.pick_inputs(vectors, images)
            out[name].setdefault(kind, {})[str(severity)] = accuracy(head, X, test.labels)
        log.info(
            "robustness: corruption %d/%d %s: %d embedded, %d reused, %.1fs",
            step,
            steps,
            corruption.name,
            report.computed,
            report.reused,
            time.perf_counter() - start,
        )
    return out


def attack(
    head: Head, test: TestSet, extractor: Extractor, params: AdversarialParams, seed: int
) -> dict | None:
    """White-box FGSM and PGD through backbone and head on a seeded subset of the test images."""
    composed = head.pixel_model(extractor)
    if composed is None:
        return None
    model, prep = composed
    chosen = np.random.default_rng(seed).permutation(len(test.paths))[: params.images]
    images = torch.stack([prep.to_uint8(read_image(test.paths[i])) for i in chosen]).to(extractor.device)
    labels = torch.as_tensor(np.searchsorted(head.classes_, test.labels[chosen])).to(extractor.device)
    scores = attack_accuracy(
        model,
        images,
        labels,
        params.epsilons,
        params.pgd_steps,
        params.pgd_epsilons,
        params.batch_size,
        seed,
        extractor.precision,
    )
    return {"images": len(chosen), **scores}


def analyse_robustness(
    heads: dict[str, Head],
    test: TestSet,
    params: RobustnessParams,
    extractor: Extractor,
    store: Store,
    batch_size: int,
    num_workers: int | None,
) -> RobustnessResult:
    """The whole grid for every head, each score beside its drop from the clean accuracy."""
    clean = {
        name: accuracy(head, head.pick_inputs(test.vectors, test.images), test.labels)
        for name, head in heads.items()
    }
    drawn = sample(test, params.images, params.seed)
    clean_drawn = clean if drawn is test else {
        name: accuracy(head, head.pick_inputs(drawn.vectors, drawn.images), drawn.labels)
        for name, head in heads.items()
    }  # fmt: skip
    embedding_heads = {n: h for n, h in heads.items() if isinstance(h, EmbeddingHead)}
    notes = [f"feature-space perturbations apply to embedding heads only, not to {n}" for n in heads
             if n not in embedding_heads]  # fmt: skip
    feature = feature_sweep(embedding_heads, drawn, params.feature, params.seed)
    image = corruption_sweep(
        heads, drawn, params.corruptions, params.severities, extractor, store, batch_size, num_workers
    )
    results = {}
    for name, head in heads.items():
        start = time.perf_counter()
        scores = attack(head, drawn, extractor, params.adversarial, params.seed)
        if scores is None:
            notes.append(f"{name} has no differentiable form; no gradient attack")
            attacks = None
        else:
            summary = "; ".join(
                f"{kind.upper()} eps {eps}: {s['accuracy']:.3f}"
                + ("" if s["success_rate"] is None else f" ({s['success_rate']:.0%} turned)")
                for kind in ("fgsm", "pgd")
                for eps, s in scores[kind].items()
            )
            log.info(
                "robustness: attacks on %s (%d images, clean %.3f): %s; %.1fs",
                name, scores["images"], scores["clean"], summary, time.perf_counter() - start,
            )  # fmt: skip
            base = scores["clean"]
            attacks = Attacks(
                images=scores["images"],
                clean=base,
                pgd_steps=params.adversarial.pgd_steps,
                **{
                    kind: {eps: AttackScore.against(v, base) for eps, v in scores[kind].items()}
                    for kind in ("fgsm", "pgd")
                },
            )
        results[name] = HeadRobustness(
            clean=clean[name],
            # drops against the clean accuracy on the same images
            feature=scored(feature.get(name, {}), clean_drawn[name]),
            image=scored(image[name], clean_drawn[name]),
            adversarial=attacks,
        )
    if drawn is not test:
        notes.append(f"perturbations and attacks on {len(drawn.paths)} of the {len(test.paths)} test "
                     "images (robustness.images, a seeded draw); each drop is against the clean accuracy "
                     "on those images")  # fmt: skip
    return RobustnessResult(n_test=len(test.paths), seed=params.seed, heads=results, notes=notes,
                            perturbed=len(drawn.paths))  # fmt: skip
