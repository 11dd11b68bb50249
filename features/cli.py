"""Command line for the store: extract, info, verify, export, compact, convert (also `workbench ...`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from .constants import DEFAULT_ARCH, DEFAULT_WEIGHTS, DEVICES, ENGINES, PRECISIONS, RUNTIMES
from .engines import extract_with
from .exceptions import FeaturesError
from .export import choose_fingerprint, export_vectors
from .files import Listing, list_images
from .networks.int8 import DEFAULT_IMAGES as DEFAULT_CALIBRATION
from .networks.int8 import Calibration
from .ray_engine import RayOptions, require_ray
from .space import NO_SPACE
from .store import FeatureStore
from .store_v1 import convert_v1, is_v1_store
from .verify import verify_store


def build_parser(prog: str = "python -m features") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    ext = commands.add_parser("extract", help="embed image files and folders into a store")
    ext.add_argument("images", type=Path, nargs="+", help="image files or folders (searched recursively)")
    ext.add_argument("--store", type=Path, required=True, help="feature store directory (created if absent)")
    ext.add_argument("--arch", default=DEFAULT_ARCH)
    ext.add_argument("--weights", default=DEFAULT_WEIGHTS, help="enum name, checkpoint path, or none")
    ext.add_argument("--device", default="auto", choices=DEVICES)
    ext.add_argument("--batch-size", type=_positive, default=32)
    ext.add_argument("--precision", default="auto", choices=PRECISIONS)
    ext.add_argument(
        "--runtime",
        default="auto",
        choices=RUNTIMES,
        help="who runs the network (auto: torch on a GPU, the fastest installed CPU runtime on a CPU)",
    )
    ext.add_argument(
        "--calibration",
        type=_positive,
        default=DEFAULT_CALIBRATION,
        help="--precision int8: how many of the images (seeded draw) its ranges are measured on",
    )
    ext.add_argument("--num-workers", type=int, default=None, help="decoder processes (default: auto)")
    ext.add_argument("--seed", type=int, default=0, help="init seed for --weights none")
    ext.add_argument("--resize", type=_positive, help="short side before cropping (default: the weights')")
    ext.add_argument("--crop", type=_positive, help="centre crop size (default: the weights')")
    ext.add_argument(
        "--engine",
        default="local",
        choices=ENGINES,
        help="ray: on a Ray cluster (needs the [ray] extra)",
    )
    ext.add_argument(
        "--address", help="--engine ray: a running cluster (auto, ray://HOST:10001); default: start one"
    )
    ext.add_argument(
        "--actors",
        type=_positive,
        help="--engine ray: embedding actors (default: one per GPU, or per core without GPUs)",
    )

    info = commands.add_parser("info", help="fingerprints, segments, sizes and failures in a store")
    info.add_argument("store", type=Path)

    verify = commands.add_parser(
        "verify", help="check every segment, index and record of a store (like git fsck)"
    )
    verify.add_argument("store", type=Path)
    verify.add_argument(
        "--repair",
        action="store_true",
        help="quarantine damaged segments (good rows kept), rebuild store.json",
    )

    compact = commands.add_parser("compact", help="publish what dead writers left, merge segments into one")
    compact.add_argument("store", type=Path)
    compact.add_argument("--fingerprint", help="only this extractor's segments")

    convert = commands.add_parser(
        "convert", help="copy a version-1 store (one .h5 file) into a store directory"
    )
    convert.add_argument("source", type=Path, help="the version-1 file (only read)")
    convert.add_argument("target", type=Path, help="a store directory (created if absent)")

    exp = commands.add_parser("export", help="keys, vectors and known paths of one extractor, to a file")
    exp.add_argument("store", type=Path)
    exp.add_argument("--out", type=Path, required=True, help="file.npz or file.parquet (needs pyarrow)")
    exp.add_argument("--fingerprint", help="which extractor (needed when the store holds several)")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_extract(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        require_ray()  # before a long scan: say at once what to install
    listing = list_images(args.images)
    _report_listing(listing)
    if not listing.images:
        raise FeaturesError(f"no image files in {[str(p) for p in args.images]}")
    network = dict(arch=args.arch, weights=args.weights, seed=args.seed, resize=args.resize, crop=args.crop)
    if args.precision == "int8":
        network["calibration"] = Calibration.of_files(listing.images, args.calibration)
    store = FeatureStore(args.store)
    _, report = extract_with(
        args.engine,
        listing.images,
        store,
        network,
        device=args.device,
        precision=args.precision,
        runtime=args.runtime,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        ray=RayOptions(args.address, args.actors),
        announce=_announce,
    )
    for failure in report.failures:
        print(f"FAILED {failure.path}: {failure.reason}", file=sys.stderr)
    skipped = f" ({len(listing.problems)} more files skipped, listed above)" if listing.problems else ""
    print(f"{len(listing.images)} images{skipped}: {report.summary()}")
    for incident in store.incidents:  # damage set aside on the way, repeated where it is seen last
        print(f"store: {incident}", file=sys.stderr)
    return 0


def _announce(extractor, where: str) -> None:
    print(f"extractor {extractor.fingerprint} ({where}): {extractor.spec}", file=sys.stderr)


def _report_listing(listing: Listing) -> None:
    """Say on stderr what a scan passed over: files without an image extension, unusable paths."""
    if listing.ignored:
        print(f"ignoring {len(listing.ignored)} files without an image extension", file=sys.stderr)
    for path, reason in listing.problems:
        print(f"SKIPPED {path}: {reason}", file=sys.stderr)


def run_info(args: argparse.Namespace) -> int:
    store = _existing_store(args.store)
    fingerprints = store.fingerprints()
    print(f"store {args.store}: {len(fingerprints)} extractor(s)")
    for name, spec in fingerprints.items():
        prep = spec["preprocessing"]
        vectors, rows = store.distinct(name), spec["count"]
        copies = (
            f" ({rows} rows: {rows - vectors} duplicates, which compact drops)" if rows != vectors else ""
        )
        calibration = spec.get("calibration")
        calibrated = "" if calibration is None else f" (calibrated on {calibration['images']} images)"
        print(
            f"  {name}  {vectors} vectors x {spec['dim']}{copies}  {spec['arch']} "
            f"{spec['weights']} layer={spec['layer']} precision={spec['precision']}{calibrated} "
            f"resize={prep['resize']} crop={prep['crop']} runtime={spec.get('runtime', 'torch')} "
            f"schema={spec['schema']}"
        )
    segments = store.segments()
    if segments:
        size = sum(s.bytes for s in segments)
        print(f"{len(segments)} segment(s), {size / 2**20:.1f} MiB on disk:")
        for seg in segments:
            print(f"  {seg.fingerprint}/{seg.name}  {seg.rows} rows  {seg.bytes / 2**20:.1f} MiB")
    failures = store.failures()
    print(f"failures: {len(failures)}")
    for failure in failures:
        print(f"  {failure.path}: {failure.reason} ({failure.decoder or 'decoder not recorded'})")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    result = verify_store(_existing_store(args.store), repair=args.repair)
    for line in result.lines():
        print(line)
    return 1 if result.damaged and not args.repair else 0


def run_export(args: argparse.Namespace) -> int:
    store = _existing_store(args.store)
    fingerprint = choose_fingerprint(store, args.fingerprint)
    rows = export_vectors(store, fingerprint, args.out)
    print(f"exported {rows} vectors of extractor {fingerprint} -> {args.out}")
    return 0


def run_compact(args: argparse.Namespace) -> int:
    print(_existing_store(args.store).compact(args.fingerprint))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    if not is_v1_store(args.source.expanduser()):
        raise FeaturesError(f"{args.source} is not a version-1 store file")
    copied = convert_v1(args.source.expanduser(), FeatureStore(args.target))
    for fingerprint, rows in copied.items():
        print(f"{fingerprint}: {rows} vectors copied")
    print(f"{args.target} is ready; {args.source} was not changed (remove it when you no longer need it)")
    return 0


def _existing_store(path: Path) -> FeatureStore:
    if not path.expanduser().exists():
        raise FeaturesError(f"no store at {path}")
    return FeatureStore(path)


def no_space(exc: OSError) -> str:
    """A full disk met outside the store (a file the command writes)."""
    where = f" writing {exc.filename}" if exc.filename else ""
    return (
        f"no space left{where} ({exc.strerror}): free space on that disk, or write elsewhere, and run again"
    )


def stdout_closed() -> int:
    """Exit as a shell tool does when its reader goes away: quietly, 141 (128 + SIGPIPE). The
    output still buffered goes to /dev/null, or Python would complain again at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141


COMMANDS = {
    "extract": run_extract,
    "info": run_info,
    "verify": run_verify,
    "export": run_export,
    "compact": run_compact,
    "convert": run_convert,
}


def run_command(
    body: Callable[[], int | None], failures: tuple[type[Exception], ...], error: str, interrupted: str
) -> int:
    """Run a command's `body` as every command ends: its own exit code (0 for None); 1 with one
    line on stderr, `error` then the reason, for one of `failures` or a full disk; 141 when the
    reader of its output went away; 130 with the line `interrupted` on Ctrl-C. Anything else is a
    bug, and its traceback is shown. (Usage errors exit 2 in argparse, before this.)"""
    try:
        return body() or 0
    except failures as exc:
        print(f"{error}{exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `workbench info STORE | head`: the reader has what it wanted
        return stdout_closed()
    except OSError as exc:
        if exc.errno not in NO_SPACE:
            raise
        print(f"{error}{no_space(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130


def main(argv: list[str] | None = None, prog: str = "python -m features") -> int:
    """Exit 0 on success, 1 on a failure (one line on stderr), 2 on a usage error, 130 on Ctrl-C."""
    args = build_parser(prog).parse_args(argv)
    return run_command(lambda: COMMANDS[args.command](args), (FeaturesError,), "error: ", "interrupted")
