"""Benchmark: every trained head of a project exported to one ONNX file, checked against the
workbench's own predictions, and its int8 variant measured against it.

    python bench/export_model.py PROJECT [--calibration 128] [--rounds 3]
                                 [--out bench/results/export_model.txt]

PROJECT is a folder after `dvc repro` (its artifacts/heads, data/splits.csv, params.yaml).
Per head, on the project's test images:

- fp32: the export's probabilities (ONNX Runtime) against `workbench predict`'s path at the
  same precision (the head's backbone on torch fp32, then the head; a fine-tuned head at
  fp32): the largest absolute difference (target below 1e-4) and the agreement of the
  predicted classes;
- against the pipeline's own predictions (artifacts/predictions/<head>.csv, made from the
  vectors `embed` stored: bf16 or a CPU runtime's): the largest difference and agreement,
  what that precision costs;
- int8 (`--int8`, calibrated on `--calibration` seeded train images): accuracy against the
  fp32 export's, with the exact McNemar test, and images/s of each session alone on uint8
  batches of 32, the median of `--rounds` interleaved rounds with half their range.

Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import RESULTS, RecordedOutput  # noqa: E402
from features.extraction.extract import extract_vectors
from features.images.reading import read_image
from features.networks.extractor import create_extractor
from features.store.base import Store
from features.store.open import open_store
from pipeline.analysis.stats import mcnemar_exact  # noqa: E402
from pipeline.deploy.onnx_model import export_model  # noqa: E402
from pipeline.heads.base import EmbeddingHead  # noqa: E402
from pipeline.heads.registry import load_head  # noqa: E402

BATCH = 32


def read_rows(project: Path, root: Path) -> tuple[list[str], list[str], list[str]]:
    """Test paths and labels, and train paths, from the project's split."""
    with open(project / "data" / "splits.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    test = [r for r in rows if r["split"] == "test"]
    train = [str(root / r["path"]) for r in rows if r["split"] == "train"]
    return [str(root / r["path"]) for r in test], [r["label"] for r in test], train


def pipeline_probabilities(project: Path, head: str, classes: list[str]) -> np.ndarray:
    with open(project / "artifacts" / "predictions" / f"{head}.csv", newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "test"]
    return np.array([[float(r[f"p_{c}"]) for c in classes] for r in rows])


def fp32_reference(head, paths: list[str], store: Store) -> np.ndarray:
    """`workbench predict`'s probabilities at fp32: the head's backbone on torch fp32, then the head."""
    if not isinstance(head, EmbeddingHead):
        head.precision_ = "fp32"
        return head.predict_proba(paths)
    recipe = {**head.trained_features().recipe, "runtime": "torch", "precision": "fp32"}
    recipe.pop("calibration", None)
    extractor = create_extractor(device="cpu", **recipe)
    _, vectors = extract_vectors(paths, store, extractor, progress=False)
    return head.predict_proba(vectors)


def session(path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_model(model, batches: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([model.run(["probabilities"], {"images": b})[0] for b in batches])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--calibration", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "export_model.txt")
    args = parser.parse_args()
    params = yaml.safe_load((args.project / "params.yaml").read_text())
    root = (args.project / Path(params["data"]["root"]).expanduser()).resolve()
    store = open_store(Path(params["embed"]["store"]).expanduser())
    test, labels, train = read_rows(args.project, root)
    rng = np.random.default_rng(0)
    calibration = sorted(rng.choice(train, min(args.calibration, len(train)), replace=False).tolist())
    with RecordedOutput(args.out), tempfile.TemporaryDirectory() as tmp:
        print(f"{args.project}: {len(test)} test images of {root}; int8 calibrated on {len(calibration)} "
              f"train images; {params['backbone']['arch']} {params['backbone']['weights']}")  # fmt: skip
        for head_dir in sorted(p.parent for p in (args.project / "artifacts" / "heads").glob("*/head.json")):
            head = load_head(head_dir)
            fp32 = export_model(head_dir, Path(tmp) / f"{head_dir.name}.onnx")
            prep = fp32.preprocessing
            images = np.stack([prep.to_uint8(read_image(p)).numpy() for p in test])
            batches = [images[i : i + BATCH] for i in range(0, len(images), BATCH)]
            exported = run_model(session(fp32.path), batches)
            reference = fp32_reference(head, test, store)
            own = pipeline_probabilities(args.project, head_dir.name, fp32.classes)
            agree = lambda a, b: np.mean(a.argmax(1) == b.argmax(1))  # noqa: E731
            embedded = (
                head.trained_features().describe() if isinstance(head, EmbeddingHead) else "its own network"
            )
            print(
                f"{head_dir.name:8s} export {fp32.megabytes:6.1f} MB | vs predict at fp32: max |dp| "
                f"{np.abs(exported - reference).max():.1e}, classes agree {agree(exported, reference):.3f} | "
                f"vs the pipeline's predictions ({embedded}): max |dp| {np.abs(exported - own).max():.1e}, "
                f"classes agree {agree(exported, own):.3f}",
                flush=True,
            )
            try:
                int8 = export_model(head_dir, Path(tmp) / f"{head_dir.name}-int8.onnx", precision="int8",
                                    calibration=calibration)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - a head whose graph does not quantize is reported, not fatal
                print(f"{'':8s} int8: not built ({str(exc).splitlines()[0][:160]})")
                continue
            sessions = {"fp32": session(fp32.path), "int8": session(int8.path)}
            quantized = run_model(sessions["int8"], batches)
            truth = np.array(labels)
            right = {"fp32": np.array(fp32.classes)[exported.argmax(1)] == truth,
                     "int8": np.array(fp32.classes)[quantized.argmax(1)] == truth}  # fmt: skip
            speed: dict[str, list[float]] = {"fp32": [], "int8": []}
            for _ in range(args.rounds):
                for name, model in sessions.items():
                    start = time.perf_counter()
                    run_model(model, batches)
                    speed[name].append(len(images) / (time.perf_counter() - start))
            median = {k: statistics.median(v) for k, v in speed.items()}
            spread = {k: (max(v) - min(v)) / 2 for k, v in speed.items()}
            test_result = mcnemar_exact(right["fp32"], right["int8"])
            print(
                f"{'':8s} int8 {int8.megabytes:6.1f} MB | test accuracy fp32 {right['fp32'].mean():.3f}, "
                f"int8 {right['int8'].mean():.3f} (fp32 only {test_result['a_only']}, int8 only "
                f"{test_result['b_only']}, "
                f"exact McNemar p {test_result['p_value']:.3g}) | img/s fp32 {median['fp32']:.1f} ± "
                f"{spread['fp32']:.1f}, int8 {median['int8']:.1f} ± {spread['int8']:.1f} "
                f"({median['int8'] / median['fp32']:.2f}x)",
                flush=True,
            )


if __name__ == "__main__":
    main()
