"""Benchmark: which backbone? Speed per runtime on this CPU, feature width, and the logreg head's
test accuracy on the shared subset, for every backbone this machine can build, in one run.

    python bench/backbones.py [--archs A,B,...] [--limit N] [--rounds R] [--out FILE]

Per backbone and runtime (torch fp32, torch bf16 where native, ONNX Runtime fp32, OpenVINO where
installed): images/s of the network alone on decoded tensors, and end to end (files to a fresh
store); the median of `--rounds` interleaved rounds with their spread. Accuracy needs real
weights: a backbone whose weights this machine cannot load (no network) is timed with a random
init (speed does not depend on the weight values) and its accuracy is left blank, never guessed.
Accuracy: the logreg head (C chosen on valid from its default grid) on the subset's seeded
60/20/20 split, all 1,184 images embedded once with torch fp32. Writes the table to `--out`
(default bench/results/backbones.txt) with the CPU it ran on.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.extract import full_extraction, network_alone, variants  # noqa: E402
from bench.machine import describe_machine  # noqa: E402
from features.exceptions import ConfigError, WeightsUnavailableError
from features.extraction.extract import extract
from features.images.reading import read_image
from features.networks.extractor import create_extractor
from features.store.open import open_store
from pipeline.data.params import SplitParams  # noqa: E402
from pipeline.data.scan import scan_folder  # noqa: E402
from pipeline.data.splits import stratified_split  # noqa: E402
from pipeline.heads.registry import make_head  # noqa: E402
from pipeline.heads.search import search  # noqa: E402

DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "caltech101-22"
# (arch, the weights to try first); each falls back to a random init when those cannot load here
BACKBONES = [
    ("resnet50", "IMAGENET1K_V2"),
    ("efficientnet_lite0", "DEFAULT"),
    ("efficientnet_lite1", "DEFAULT"),
    ("efficientnet_lite2", "DEFAULT"),
    ("mobilenet_v3_large", "DEFAULT"),
    ("efficientnet_b0", "DEFAULT"),
    ("convnext_tiny", "DEFAULT"),
    ("swin_t", "DEFAULT"),
    ("vit_b_16", "DEFAULT"),
    ("timm:vit_small_patch14_dinov2.lvd142m", "DEFAULT"),
    ("timm:vit_base_patch16_clip_224.openai", "DEFAULT"),
]


def loadable(arch: str, weights: str) -> tuple[str, bool]:
    """The weights to time `arch` with, and whether they are the pretrained ones."""
    try:
        create_extractor(arch, weights, device="cpu", precision="fp32", runtime="torch")
        return weights, True
    except (WeightsUnavailableError, ConfigError) as exc:  # offline, or a package not installed
        print(
            f"  {arch}: {weights} weights not loadable here ({str(exc).splitlines()[0][:120]}); random init"
        )
        return "none", False


def accuracy(extractor, images: Path) -> float:
    """The logreg head's test accuracy on the subset, C chosen on valid as the train stage does."""
    items = scan_folder(images).items
    labels = np.array([item.label for item in items])
    split = np.array(stratified_split(list(labels), SplitParams(), seed=0))
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "store")
        report = extract([images / item.path for item in items], store, extractor, progress=False)
        vectors = store.get(extractor.fingerprint, report.keys)
    train, valid, test = (split == name for name in ("train", "valid", "test"))
    found = search(make_head("logreg"), {"C": [0.1, 0.01, 1.0]}, vectors[train], labels[train],
                   (vectors[valid], labels[valid]))  # fmt: skip
    return float(found.head.score(vectors[test], labels[test]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--archs", help="comma-separated subset of: " + ", ".join(a for a, _ in BACKBONES))
    parser.add_argument("--limit", type=int, default=96, help="images timed per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is shown")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "results" / "backbones.txt"
    )
    args = parser.parse_args()
    chosen = [(a, w) for a, w in BACKBONES if not args.archs or a in args.archs.split(",")]
    paths = sorted(args.images.rglob("*.jpg"))[: args.limit]
    exports = Path(tempfile.mkdtemp()) / "exports"
    runtimes = [v for v in variants() if v[1] != "int8"]  # int8: bench/extract.py, CNNs only
    lines = [describe_machine(), f"{len(paths)} images timed, batch {args.batch_size}, {args.rounds} rounds"]
    print("\n".join(lines), flush=True)
    rows = []
    for arch, wanted in chosen:
        weights, pretrained = loadable(arch, wanted)
        extractors = {}
        for runtime, precision in runtimes:
            try:
                extractors[(runtime, precision)] = create_extractor(
                    arch, weights, device="cpu", precision=precision, runtime=runtime, exports=exports
                )
            except Exception as exc:  # a runtime that cannot run this network is reported, not fatal
                print(f"  {arch} {runtime} {precision}: {str(exc).splitlines()[0][:140]}")
        prep = next(iter(extractors.values())).backbone.preprocessing
        tensors = [prep.to_uint8(read_image(p)) for p in paths]
        timings = {name: {"alone": [], "full": []} for name in extractors}
        for _ in range(args.rounds):
            for name, extractor in extractors.items():
                timings[name]["alone"].append(network_alone(extractor, tensors, args.batch_size))
                timings[name]["full"].append(full_extraction(extractor, paths, args.batch_size, None)[0])
        start = time.perf_counter()
        acc = accuracy(extractors[("torch", "fp32")], args.images) if pretrained else None
        dim = next(iter(extractors.values())).dim
        rows.append((arch, weights, dim, prep, timings, acc, time.perf_counter() - start))
        print(format_row(rows[-1]), flush=True)
    lines += [format_row(row) for row in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"written to {args.out}")


def format_row(row) -> str:
    arch, weights, dim, prep, timings, acc, _ = row
    cells = []
    for (runtime, precision), t in timings.items():
        alone, full = (statistics.median(t[k]) for k in ("alone", "full"))
        spread = (max(t["full"]) - min(t["full"])) / 2
        cells.append(f"{runtime} {precision} {alone:6.1f} alone / {full:6.1f} ± {spread:4.1f} end to end")
    shown = "n/a (no pretrained weights here)" if acc is None else f"{acc:.3f}"
    head = f"{arch} [{weights}] {dim}-d, {prep.resize}/{prep.crop} {prep.interpolation}"
    return f"{head} | logreg test accuracy {shown} | img/s: " + " | ".join(cells)


if __name__ == "__main__":
    main()
