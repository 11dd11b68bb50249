"""Command line: `python -m features extract DIR --store PATH` and `python -m features info PATH`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .constants import DEFAULT_ARCH, DEFAULT_WEIGHTS, DEVICES, PRECISIONS
from .exceptions import FeaturesError
from .extract import extract
from .extractor import create_extractor
from .images import is_image_file
from .store import FeatureStore


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m features", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    ext = commands.add_parser("extract", help="embed every image under a folder into a store")
    ext.add_argument("image_dir", type=Path)
    ext.add_argument("--store", type=Path, required=True, help="HDF5 feature store (created if absent)")
    ext.add_argument("--arch", default=DEFAULT_ARCH)
    ext.add_argument("--weights", default=DEFAULT_WEIGHTS, help="enum name, checkpoint path, or none")
    ext.add_argument("--device", default="auto", choices=DEVICES)
    ext.add_argument("--batch-size", type=_positive, default=32)
    ext.add_argument("--precision", default="auto", choices=PRECISIONS)
    ext.add_argument("--num-workers", type=int, default=None, help="decoder processes (default: auto)")
    ext.add_argument("--seed", type=int, default=0, help="init seed for --weights none")
    ext.add_argument("--resize", type=_positive, help="short side before cropping (default: the weights')")
    ext.add_argument("--crop", type=_positive, help="centre crop size (default: the weights')")

    info = commands.add_parser("info", help="fingerprints, counts and failures in a store")
    info.add_argument("store", type=Path)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_extract(args: argparse.Namespace) -> int:
    if not args.image_dir.is_dir():
        raise FeaturesError(f"{args.image_dir} is not a folder")
    files = sorted(p for p in args.image_dir.rglob("*") if p.is_file())
    images = [p for p in files if is_image_file(p)]
    others = len(files) - len(images)
    if others:
        print(f"ignoring {others} files without an image extension", file=sys.stderr)
    if not images:
        raise FeaturesError(f"no image files under {args.image_dir}")
    extractor = create_extractor(
        args.arch,
        args.weights,
        args.device,
        args.precision,
        seed=args.seed,
        resize=args.resize,
        crop=args.crop,
    )
    print(f"extractor {extractor.fingerprint}: {extractor.spec}", file=sys.stderr)
    report = extract(
        images,
        FeatureStore(args.store),
        extractor,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
    )
    for failure in report.failures:
        print(f"FAILED {failure.path}: {failure.reason}", file=sys.stderr)
    print(f"{len(images)} images: {report.summary()}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    if not args.store.exists():
        raise FeaturesError(f"no store at {args.store}")
    store = FeatureStore(args.store)
    fingerprints = store.fingerprints()
    print(f"store {args.store}: {len(fingerprints)} extractor(s)")
    for name, spec in fingerprints.items():
        prep = spec["preprocessing"]
        print(
            f"  {name}  {spec['count']} vectors x {spec['dim']}  {spec['arch']} "
            f"{spec['weights']} layer={spec['layer']} precision={spec['precision']} "
            f"resize={prep['resize']} crop={prep['crop']} schema={spec['schema']}"
        )
    failures = store.failures()
    print(f"failures: {len(failures)}")
    for failure in failures:
        print(f"  {failure.path}: {failure.reason}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"extract": run_extract, "info": run_info}[args.command](args)
    except FeaturesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
