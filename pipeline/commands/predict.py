"""Apply a saved head to new images: through the feature store for embedding heads, from pixels otherwise."""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from features.constants import DEVICES
from features.extraction.extract import extract_vectors
from features.images.listing import list_images
from features.images.reading import check_images
from features.store.base import Store
from features.store.open import open_store

from ..artifacts.image_inputs import ImageInputs
from ..embedding.params import EmbedParams
from ..exceptions import DataError
from ..heads.base import Head, ImageHead
from ..heads.registry import load_head
from ..heads.reject import SCORES, max_probability, nearest_similarity, train_keys
from ..heads.reject import require as require_reject


@dataclass
class NewPredictions:
    """Class probabilities for the images that could be read, and why the others could not."""

    classes: list[str]
    paths: list[str]
    keys: list[str]  # SHA-256 of each image's bytes
    proba: np.ndarray  # (len(paths), len(classes))
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    scores: np.ndarray | None = None  # the reject score of each predicted image, when asked for
    threshold: float | None = None  # below it an image is `unknown`

    def predicted(self) -> list[str]:
        """Each image's class, or `unknown` where its score is below the reject threshold."""
        best = [self.classes[i] for i in self.proba.argmax(axis=1)] if len(self.proba) else []
        if self.threshold is None:
            return best
        return [
            UNKNOWN if score < self.threshold else name for name, score in zip(best, self.scores, strict=True)
        ]


UNKNOWN = "unknown"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reject:
    """Mark images `unknown` below the score that accepts `accept` of the head's known-class
    validation images."""

    head_dir: Path
    accept: float = 0.95
    score: str = "max_probability"


def predict_images(
    head: Head,
    paths: list[Path],
    *,
    store: Store,
    device: str = "auto",
    batch_size: int = 32,
    num_workers: int | None = None,
    reject: Reject | None = None,
) -> NewPredictions:
    """Predict every decodable image in `paths`; undecodable ones come back in `failures`. With
    `reject`, each image's score too, and the threshold below which it is `unknown`."""
    threshold = require_reject(reject.head_dir).threshold(reject.accept, reject.score) if reject else None
    paths = [str(p) for p in paths]
    read = read_new(head, paths, store, device, batch_size=batch_size, num_workers=num_workers)
    proba = head.predict_proba(read.inputs) if read.positions else np.empty((0, len(head.classes_)))
    scores = None
    if reject and reject.score == "nearest_train":
        train = store.get(head.trained_features().fingerprint, train_keys(reject.head_dir))
        scores = nearest_similarity(read.inputs, train) if read.positions else np.empty(0)
    elif reject:
        scores = max_probability(proba)
    return NewPredictions(
        classes=[str(c) for c in head.classes_],
        paths=[paths[i] for i in read.positions],
        keys=read.keys,
        proba=proba,
        failures=sorted((paths[i], reason) for i, reason in read.failures.items()),
        scores=scores,
        threshold=threshold,
    )


@dataclass
class NewInputs:
    """New images read for a head: its inputs for the ones that could be read, and why not the rest."""

    inputs: np.ndarray | ImageInputs  # what the head's predict_proba takes, one row per readable image
    positions: list[int]  # which of the requested paths those rows are
    keys: list[str]  # SHA-256 of each readable image's bytes
    failures: dict[int, str] = field(default_factory=dict)  # position -> reason


def read_new(head: Head, paths: list[str], store: Store, device: str, **extract_args) -> NewInputs:
    """A head's inputs for new image files, with the files it cannot read. An embedding head's
    are embedded through `store` with the very extractor it was trained on; an image head's
    files are decoded once here too, so a bad image is reported instead of stopping its network."""
    if isinstance(head, ImageHead):
        checks = check_images(paths)
        failures = {i: reason for i, (_, reason) in enumerate(checks) if reason}
        ok = [i for i in range(len(paths)) if i not in failures]
        return NewInputs(ImageInputs.of([paths[i] for i in ok]), ok, [checks[i][0] for i in ok], failures)
    source = head.trained_features()
    extractor = source.extractor(device, store.exports())
    log.info("predict: extractor %s", source.describe())
    report, vectors = extract_vectors(paths, store, extractor, **extract_args)
    log.info("predict: embedding %d images: %s", len(paths), report.summary())
    failed = {f.path: f.reason for f in report.failures}
    failures = {i: failed[p] for i, p in enumerate(paths) if p in failed}
    ok = [i for i in range(len(paths)) if i not in failures]
    return NewInputs(vectors, ok, [report.keys[i] for i in ok], failures)


def write_csv(path: Path, result: NewPredictions, top_k: int = 5) -> None:
    """One row per input: path, sha256, predicted (`unknown` below the reject threshold),
    confidence, score (with a reject threshold), top-k, every class, and error.

    Rows that could not be predicted keep their path and carry the reason in `error`, so
    every input is accounted for in one file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    k = min(top_k, len(result.classes))
    scored = result.threshold is not None
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        score_column = ["score"] if scored else []
        writer.writerow(
            ["path", "sha256", "predicted", "confidence", *score_column, f"top{k}",
             *[f"p_{c}" for c in result.classes], "error"]
        )  # fmt: skip
        for i, (image, key, proba, name) in enumerate(
            zip(result.paths, result.keys, result.proba, result.predicted(), strict=True)
        ):
            order = np.argsort(-proba, kind="stable")[:k]
            top = "; ".join(f"{result.classes[j]} {proba[j]:.4f}" for j in order)
            score = [f"{result.scores[i]:.6f}"] if scored else []
            writer.writerow(
                [image, key, name, f"{proba[order[0]]:.6f}", *score, top, *(f"{p:.6g}" for p in proba), ""]
            )
        for image, reason in result.failures:
            writer.writerow(
                [image, "", "", "", *[""] * len(score_column), "", *[""] * len(result.classes), reason]
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="workbench predict",
        description="Apply a trained head to new images; writes one CSV row per image.",
    )
    parser.add_argument(
        "--head", type=Path, required=True, help="a trained head's folder, e.g. artifacts/heads/mlp"
    )
    parser.add_argument("images", type=Path, nargs="+", help="image files or folders (searched recursively)")
    parser.add_argument("--out", type=Path, required=True, help="predictions CSV")
    parser.add_argument("--store", default=EmbedParams().store, help="feature store (default: %(default)s)")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-workers", type=int, default=None, help="decoder processes (default: auto)")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument(
        "--reject", type=float, nargs="?", const=0.95, metavar="ACCEPT",
        help="mark images `unknown` below the score that accepts this share of the head's known-class "
        "validation images (default 0.95 when given without a value)",
    )  # fmt: skip
    parser.add_argument(
        "--reject-score", choices=SCORES, default="max_probability",
        help="the score: the largest class probability, or (embedding heads) the cosine similarity "
        "to the nearest train image (default: %(default)s)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    head = load_head(args.head)
    listing = list_images(args.images)
    if listing.ignored:
        print(f"ignoring {len(listing.ignored)} files without an image extension", file=sys.stderr)
    if not listing.images and not listing.problems:
        raise DataError(f"no image files in {[str(p) for p in args.images]}")
    result = predict_images(
        head,
        listing.images,
        store=open_store(args.store),
        device=args.device,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        reject=Reject(args.head, args.reject, args.reject_score) if args.reject is not None else None,
    )
    result.failures = sorted(result.failures + [(str(p), reason) for p, reason in listing.problems])
    write_csv(args.out, result, args.top_k)
    for path, reason in result.failures:
        print(f"NOT PREDICTED {path}: {reason}", file=sys.stderr)
    predicted = Counter(result.predicted())
    common = ", ".join(f"{name} {n}" for name, n in predicted.most_common(5))
    rejected = (
        f"; {predicted[UNKNOWN]} unknown ({args.reject_score} below {result.threshold:.4f}, which accepts "
        f"{args.reject:.0%} of known-class validation images)"
        if result.threshold is not None
        else ""
    )
    print(
        f"predict {head.name}: {len(result.paths)} images predicted, {len(result.failures)} not{rejected} "
        f"-> {args.out}" + (f" (most predicted: {common})" if common else "")
    )
