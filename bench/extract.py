"""Benchmark: full extraction (files to store) against the network alone, same run, same images.

    python bench/extract.py [--images DIR] [--limit N] [--batch-size B]

Prints images/s, per runtime (torch, ONNX Runtime, OpenVINO: those installed) and precision
(fp32, bf16 where native, int8 on ONNX Runtime calibrated on 128 of the images, with its
cosine to torch fp32), for: the network alone on pre-decoded tensors, the full
`features` extraction into a fresh store, their ratio, and each against torch fp32, with the
store's share of that time (the writer's `put` of each batch and its final publish); and a naive loop
(decode in the main process, fp32, contiguous layout) for comparison. With
`--corruption gaussian_blur@3`, also the robustness stage's path: the same extraction of
corrupted copies, against the clean one. Random-init weights: speed does not depend on the
weight values.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from bench.machine import RESULTS, RecordedOutput
from features.extraction.extract import extract
from features.hashing.cache import hash_files
from features.hashing.digest import derived_key
from features.images.loader import default_num_workers
from features.images.reading import read_image
from features.networks.extractor import create_extractor
from features.networks.int8 import Calibration
from features.networks.onnx_export import installed
from features.networks.runtimes import supports_bf16
from features.store.open import open_store
from features.store.writer import StoreWriter
from pipeline.analysis.corruptions import Corruption

DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "caltech101-22"


def _spread(values: list[float]) -> float:
    """Half the range of the rounds: how far the median could be off on this machine."""
    return (max(values) - min(values)) / 2


def network_alone(extractor, tensors: list[torch.Tensor], batch_size: int) -> float:
    batches = [torch.stack(tensors[i : i + batch_size]) for i in range(0, len(tensors), batch_size)]
    extractor(batches[0])  # warm-up: oneDNN builds its kernels on the first call
    start = time.perf_counter()
    for batch in batches:
        extractor(batch)
    return len(tensors) / (time.perf_counter() - start)


@contextlib.contextmanager
def store_time() -> Iterator[list[float]]:
    """Seconds spent inside the store's writer (put and close) while the block runs."""
    spent = [0.0]
    originals = {name: getattr(StoreWriter, name) for name in ("put", "close")}

    def timed(original):
        def method(writer, *args, **kwargs):
            start = time.perf_counter()
            try:
                return original(writer, *args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start

        return method

    for name, original in originals.items():
        setattr(StoreWriter, name, timed(original))
    try:
        yield spent
    finally:
        for name, original in originals.items():
            setattr(StoreWriter, name, original)


def full_extraction(
    extractor, paths: list[Path], batch_size: int, workers: int | None, corruption: str | None = None
) -> tuple[float, float]:
    """Files to store: img/s, and the store's share of the time; with `corruption`
    (kind@severity), of corrupted copies."""

    def run(store, chunk: list[Path]):
        kwargs = {"batch_size": batch_size, "num_workers": workers, "progress": False}
        if corruption is not None:
            kind, severity = corruption.split("@")
            transform = Corruption(kind, int(severity), hash_files(chunk)[0])
            kwargs |= {"transform": transform, "keys": [derived_key(k, corruption) for k in transform.keys]}
        return extract(chunk, store, extractor, **kwargs)

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "store")
        run(store, paths[:batch_size])  # warm-up
        with store_time() as spent:
            report = run(store, paths[batch_size:])
        assert report.computed == len(paths) - batch_size and not report.failures
        return report.computed / report.seconds, spent[0] / report.seconds


def naive_loop(extractor, paths: list[Path], batch_size: int) -> float:
    """Decode in the main process, fp32, contiguous memory: the obvious first attempt."""
    model = extractor.backbone.model.to(memory_format=torch.contiguous_format)
    prep = extractor.backbone.preprocessing
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(paths), batch_size):
            batch = torch.stack([prep.to_uint8(read_image(p)) for p in paths[i : i + batch_size]])
            model(prep.normalize(batch))
    model.to(memory_format=torch.channels_last)
    return len(paths) / (time.perf_counter() - start)


def tensors_of(extractors: dict, paths: list[Path]) -> torch.Tensor:
    prep = next(iter(extractors.values())).backbone.preprocessing
    return torch.stack([prep.to_uint8(read_image(p)) for p in paths])


def min_cosine(extractors: dict, images: torch.Tensor) -> float:
    """int8's vectors against torch fp32's on the same images: how near the quantized net is."""
    expected, got = extractors[("torch", "fp32")](images), extractors[("onnxruntime", "int8")](images)
    return float(
        ((got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)).min()
    )


def variants() -> list[tuple[str, str]]:
    """(runtime, precision) pairs this machine can run, torch fp32 (the baseline) first."""
    cpu = torch.device("cpu")
    out = [("torch", "fp32")] + ([("torch", "bf16")] if supports_bf16(cpu) else [])
    if torch.cuda.is_available():
        return [("torch", "fp32"), ("torch", "bf16")]
    if installed("onnxruntime"):
        out += [("onnxruntime", "fp32"), ("onnxruntime", "int8")]
    if installed("openvino"):
        out += [("openvino", "fp32")] + ([("openvino", "bf16")] if supports_bf16(cpu) else [])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--limit", type=int, default=320, help="images to use (0: all)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--repeats", type=int, default=3, help="interleaved rounds; the median of each, ± half their range"
    )
    parser.add_argument(
        "--calibration", type=int, default=128, help="int8: images its ranges are measured on"
    )
    parser.add_argument("--corruption", help="also extract corrupted copies, e.g. gaussian_blur@3")
    parser.add_argument("--out", type=Path, default=RESULTS / "extract.txt", help="the results file")
    args = parser.parse_args()
    with RecordedOutput(args.out):
        paths = sorted(args.images.rglob("*.jpg"))
        paths = paths[: args.limit] if args.limit else paths
        print(
            f"{len(paths)} images from {args.images}, batch {args.batch_size}, "
            f"{torch.get_num_threads()} torch threads"
        )
        exports = Path(tempfile.mkdtemp()) / "exports"
        # int8 calibrated as the embed stage does it: a seeded draw of the task's own images
        calibration = Calibration.of_files(paths, args.calibration)
        extractors = {
            (runtime, precision): create_extractor(
                weights="none",
                precision=precision,
                runtime=runtime,
                exports=exports,
                calibration=calibration if precision == "int8" else None,
            )  # fmt: skip
            for runtime, precision in variants()
        }
        if ("onnxruntime", "int8") in extractors:
            cosine = min_cosine(extractors, tensors_of(extractors, paths[:64]))
            print(f"int8: min cosine to torch fp32 {cosine:.5f} on {min(64, len(paths))} of the images")
        prep = next(iter(extractors.values())).backbone.preprocessing
        tensors = [prep.to_uint8(read_image(p)) for p in paths]
        rounds: dict = {
            name: {k: [] for k in ("alone", "full", "one", "share", "corrupted")} for name in extractors
        }
        # Interleaved rounds: this machine's noise hits every variant alike; the median of each is shown
        for _ in range(args.repeats):
            for name, extractor in extractors.items():
                r = rounds[name]
                r["alone"].append(network_alone(extractor, tensors, args.batch_size))
                full, share = full_extraction(extractor, paths, args.batch_size, None)
                r["full"].append(full)
                r["share"].append(share)
                r["one"].append(full_extraction(extractor, paths, args.batch_size, 1)[0])
                if args.corruption:
                    r["corrupted"].append(
                        full_extraction(extractor, paths, args.batch_size, None, args.corruption)[0]
                    )
        median = {
            name: {k: statistics.median(v) if v else 0.0 for k, v in r.items()} for name, r in rounds.items()
        }
        base = median[("torch", "fp32")]
        for (runtime, precision), b in median.items():
            extractor, r = extractors[(runtime, precision)], rounds[(runtime, precision)]
            label = f"{runtime} {precision}"
            print(
                f"{label:17s} network alone {b['alone']:6.1f} ± {_spread(r['alone']):4.1f} img/s "
                f"({b['alone'] / base['alone']:.2f}x torch fp32) | full extraction {b['full']:6.1f} ± "
                f"{_spread(r['full']):4.1f} img/s ({b['full'] / base['full']:.2f}x torch fp32 end to end; "
                f"default workers: {default_num_workers(extractor.device)}) | full/network "
                f"{b['full'] / b['alone']:.2f}x "
                f"(target >= 0.90x) | 1 decoder process {b['one']:6.1f} img/s "
                f"({b['one'] / b['alone']:.2f}x) | "
                f"store {100 * b['share']:.1f}% of it"
            )
            if args.corruption:
                print(f"{label:17s} extraction of {args.corruption} copies {b['corrupted']:6.1f} img/s | "
                      f"corrupted/clean {b['corrupted'] / b['full']:.2f}x")  # fmt: skip
        naive = naive_loop(extractors[("torch", "fp32")], paths, args.batch_size)
        print(f"torch fp32: naive loop (main-process decode, contiguous) {naive:6.1f} img/s | full/naive "
              f"{base['full'] / naive:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
