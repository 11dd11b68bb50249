"""The reject option: a score per image, how much it looks like the head's classes, and the
thresholds that accept a chosen share of known-class images, read off the head's validation
images (recorded at train time in `reject.json` beside the head).

Two scores: `max_probability`, the head's largest class probability (every head), and
`nearest_train`, the cosine similarity of an image's embedding to the nearest train
embedding (embedding heads; the train rows' keys are kept, and their vectors read back from
the feature store). Higher means more like a known class; an image scoring below the threshold
is `unknown`. bench/openset.py measures both against classes the head never saw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from features.hashing.keys import to_hex, to_raw

from ..exceptions import PipelineError

SCORES = ("max_probability", "nearest_train")
REJECT_FILE = "reject.json"
TRAIN_KEYS_FILE = "train_keys.npy"  # the train rows' content keys, (n, 32) bytes, for nearest_train
LEVELS = np.linspace(0.0, 1.0, 1001)  # quantiles kept: any accepted share to 0.001
EXPORTED_SHARES = (0.9, 0.95, 0.99)
SIMILARITY_BLOCK = 4096  # query rows per matrix product
TIES_ALLOWED = 0.02  # a threshold may accept this much more than asked, where scores tie on it


def max_probability(proba: np.ndarray) -> np.ndarray:
    return np.asarray(proba).max(axis=1)


def nearest_similarity(vectors, train) -> np.ndarray:
    """Each row's cosine similarity to its most similar train row (exact, a block at a time)."""
    train = _unit(np.asarray(train, dtype=np.float32))
    best = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), SIMILARITY_BLOCK):
        block = _unit(np.asarray(vectors[start : start + SIMILARITY_BLOCK], dtype=np.float32))
        best[start : start + len(block)] = (block @ train.T).max(axis=1)
    return best


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class RejectCalibration:
    """The validation images' scores, as quantiles, per score."""

    images: int
    quantiles: dict[str, list[float]]  # score -> its values at LEVELS

    @classmethod
    def of(cls, scores: dict[str, np.ndarray]) -> RejectCalibration:
        images = {len(values) for values in scores.values()}
        if len(images) != 1 or not images.pop():
            raise PipelineError("a reject threshold needs validation images, the same for every score")
        return cls(len(next(iter(scores.values()))), {
            name: np.quantile(np.asarray(values, dtype=np.float64), LEVELS).tolist()
            for name, values in scores.items()
        })  # fmt: skip

    def threshold(self, accept: float, score: str = "max_probability") -> float:
        """The score at or above which `accept` of the known-class validation images lie."""
        if not 0.0 < accept <= 1.0:
            raise PipelineError(f"reject: the share to accept must be in (0, 1], got {accept}")
        if score not in self.quantiles:
            raise PipelineError(
                f"reject: this head has no {score!r} thresholds (it records {sorted(self.quantiles)}; "
                "nearest_train is for heads on embeddings)"
            )
        quantiles = np.asarray(self.quantiles[score])
        threshold = float(np.interp(1.0 - accept, LEVELS, quantiles))
        accepted = float(np.mean(quantiles >= threshold))  # ties all pass a threshold they sit on
        if accepted > accept + TIES_ALLOWED:
            raise PipelineError(
                f"reject: {score} is {threshold:.4g} or more on {accepted:.0%} of this head's validation "
                f"images, so no threshold on it accepts {accept:.0%} of them (a 1-NN head, or an "
                "overconfident network, gives most images 1.0): accept a larger share, or, for a head on "
                "embeddings, use --reject-score nearest_train"
            )
        return threshold

    def exported(self) -> dict:
        """What an exported model carries: its score's thresholds at a few shares; a share no
        threshold can give (the scores tie) is left out, with why in `note`."""
        thresholds, notes = {}, []
        for share in EXPORTED_SHARES:
            try:
                thresholds[str(share)] = self.threshold(share)
            except PipelineError as exc:
                notes.append(str(exc))
        return {"score": "max_probability", "validation_images": self.images, "thresholds": thresholds,
                "note": notes[0] if notes else ""}  # fmt: skip

    def write(self, directory: Path) -> None:
        saved = {"images": self.images, "quantiles": self.quantiles}
        (Path(directory) / REJECT_FILE).write_text(json.dumps(saved))

    @classmethod
    def read(cls, directory: Path) -> RejectCalibration | None:
        path = Path(directory) / REJECT_FILE
        if not path.is_file():
            return None
        saved = json.loads(path.read_text())
        return cls(saved["images"], saved["quantiles"])


def save_train_keys(directory: Path, keys) -> None:
    """The train rows' keys beside the head, 32 bytes each: nearest_train reads their vectors back."""
    np.save(Path(directory) / TRAIN_KEYS_FILE, to_raw(list(keys)))


def train_keys(directory: Path) -> list[str]:
    """The keys `save_train_keys` kept, as hex (what the feature store is asked for)."""
    path = Path(directory) / TRAIN_KEYS_FILE
    if not path.is_file():
        raise PipelineError(
            f"{directory} keeps no train keys ({TRAIN_KEYS_FILE}): nearest_train needs them; "
            "retrain the head with a current version, or use --reject-score max_probability"
        )
    return to_hex(np.load(path))


def require(directory: Path) -> RejectCalibration:
    """The head's calibration, or a sentence saying why there is none."""
    calibration = RejectCalibration.read(directory)
    if calibration is None:
        raise PipelineError(
            f"{directory} records no reject thresholds ({REJECT_FILE}): they come from the validation "
            "split, so train the head with one (data.split.valid above 0) and a current version "
            "(`dvc repro train@HEAD`)"
        )
    return calibration
