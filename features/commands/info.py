"""`workbench info STORE`: the extractors, segments, sizes and failures in a store."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..store.open import open_existing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", type=Path)


def run(args: argparse.Namespace) -> int:
    store = open_existing(args.store)
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
