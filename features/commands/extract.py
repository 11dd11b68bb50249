"""`workbench extract IMAGES --store DIR`: embed image files and folders into a store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..cli import positive, print_incidents, report_listing
from ..constants import (
    CALIBRATION_IMAGES,
    DEFAULT_ARCH,
    DEFAULT_WEIGHTS,
    DEVICES,
    ENGINES,
    PRECISIONS,
    RUNTIMES,
)
from ..engines.ray_options import RayOptions, require_ray
from ..engines.registry import extract_with
from ..engines.settings import EngineSettings
from ..exceptions import FeaturesError
from ..images.listing import list_images
from ..networks.extractor import ExtractorConfig
from ..networks.int8 import Calibration
from ..store.open import open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", type=Path, nargs="+", help="image files or folders (searched recursively)")
    parser.add_argument(
        "--store", type=Path, required=True, help="feature store directory (created if absent)"
    )
    parser.add_argument("--arch", default=DEFAULT_ARCH)
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS, help="enum name, checkpoint path, or none")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--batch-size", type=positive, default=32)
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument(
        "--runtime",
        default="auto",
        choices=RUNTIMES,
        help="who runs the network (auto: torch on a GPU, the fastest installed CPU runtime on a CPU)",
    )
    parser.add_argument(
        "--calibration",
        type=positive,
        default=CALIBRATION_IMAGES,
        help="--precision int8: how many of the images (seeded draw) its ranges are measured on",
    )
    parser.add_argument("--num-workers", type=int, default=None, help="decoder processes (default: auto)")
    parser.add_argument("--seed", type=int, default=0, help="init seed for --weights none")
    parser.add_argument("--resize", type=positive, help="short side before cropping (default: the weights')")
    parser.add_argument("--crop", type=positive, help="centre crop size (default: the weights')")
    parser.add_argument(
        "--engine",
        default="local",
        choices=ENGINES,
        help="ray: on a Ray cluster (needs the [ray] extra)",
    )
    parser.add_argument(
        "--address", help="--engine ray: a running cluster (auto, ray://HOST:10001); default: start one"
    )
    parser.add_argument(
        "--actors",
        type=positive,
        help="--engine ray: embedding actors (default: one per GPU, or per core without GPUs)",
    )


def run(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        require_ray()  # before a long scan: say at once what to install
    listing = list_images(args.images)
    report_listing(listing)
    if not listing.images:
        raise FeaturesError(f"no image files in {[str(p) for p in args.images]}")
    calibration = Calibration.of_files(listing.images, args.calibration) if args.precision == "int8" else None
    config = ExtractorConfig(
        args.arch, args.weights, args.seed, args.resize, args.crop, args.precision, args.runtime, calibration
    )
    store = open_store(args.store)
    _, report = extract_with(
        args.engine,
        listing.images,
        store,
        config,
        EngineSettings(args.device, args.batch_size, args.num_workers, RayOptions(args.address, args.actors)),
        announce=_announce,
    )
    for failure in report.failures:
        print(f"FAILED {failure.path}: {failure.reason}", file=sys.stderr)
    skipped = f" ({len(listing.problems)} more files skipped, listed above)" if listing.problems else ""
    print(f"{len(listing.images)} images{skipped}: {report.summary()}")
    print_incidents(store, "store: ")
    return 0


def _announce(extractor, where: str) -> None:
    print(f"extractor {extractor.fingerprint} ({where}): {extractor.spec}", file=sys.stderr)
