"""Benchmark: the feature store at scale, against the disk it sits on, from one run.

    python bench/scale.py [--parts store,images,plan] [--n 1000000] [--dim 2048] [--big-n 10000000]
                          [--big-dim 16] [--images 10000,100000] [--plan-n 1000000] [--dir DIR]
                          [--out bench/results/scale-PARTS.txt]

1. The disk: a file of the size the put test writes, written sequentially and fsynced (MB/s).
2. put: one writer storing `dim`-d float32 vectors in batches of 256, publish included
   (vectors/s, and the ratio to the disk's own speed; target >= 0.7x).
3. Lookups at `n` and `big-n` stored vectors (random vectors; the big store has small ones
   so that it fits on disk), in fresh processes as a new user would meet them (the median
   of three): open and `contains` of every stored key (target < 0.5 s at 1M), `get` of
   10,000 random keys (target < 0.3 s), the index's memory, the segments and the size on disk. Lookup cost
   should grow about logarithmically from `n` to `big-n`.
4. Images (`--images`): N synthetic pictures made from their index (48 x 40 PNGs, 1,000 to
   a folder), embedded by a tiny real network (resnet18, random init, 32-pixel crops, fp32,
   batches of 256) so that the pipeline around the network is what is measured: each engine
   in a fresh process, local then Ray (started on this machine, every core), images/s (flat
   within 15% from the smallest N to the largest), the driver's peak memory, the store on
   disk and its lookups, then a re-run over the same unchanged files (hashes from the cache,
   nothing computed). Ray's overhead is its time over the local engine's (target <= 1.2x),
   and, from the two ends of `--images`, each engine's time split into a fixed part (Ray's
   start and stop) and a rate per image.
   `--images 10000,1000000` embeds a million images (40 minutes on 2 cores, 3 GB of PNGs);
   part 3 is the store alone at 1M and 10M vectors.
5. The driver's plan (`--parts plan --plan-n 1000000`): N tiny distinct files, planned against
   an empty store in a fresh process, measured with tracemalloc (Python and numpy
   allocations): the peak while planning and what the plan holds afterwards, per image
   (target < 0.5 KB), for the three ways a plan learns keys: none known (every file left for
   the decoders to hash), every key from the hash cache (a re-run), keys given (the pipeline).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import RESULTS, RecordedOutput  # noqa: E402
from features.hashing.keys import to_hex  # noqa: E402
from features.store.base import Store  # noqa: E402
from features.store.open import open_store  # noqa: E402

SPEC = {"arch": "bench"}


def keys_for(n: int, seed: int) -> list[str]:
    return to_hex(np.random.default_rng(seed).integers(0, 256, size=(n, 32), dtype=np.uint8))


def disk_mb_per_s(directory: Path, nbytes: int) -> float:
    block = np.random.default_rng(0).integers(0, 255, size=8 * 2**20, dtype=np.uint8).tobytes()
    path = directory / "disk.bin"
    start = time.perf_counter()
    with open(path, "wb") as handle:
        for _ in range(nbytes // len(block)):
            handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())
    seconds = time.perf_counter() - start
    path.unlink()
    return nbytes / seconds / 1e6


def fill(store: Store, n: int, dim: int, seed: int, batch: int) -> float:
    """Store n random vectors through one writer; returns seconds, publish included."""
    rng = np.random.default_rng(seed + 1)
    keys = keys_for(n, seed)
    start = time.perf_counter()
    with store.writer("bench", SPEC) as writer:
        for lo in range(0, n, batch):
            hi = min(lo + batch, n)
            writer.put(keys[lo:hi], rng.random((hi - lo, dim), dtype=np.float32))
    return time.perf_counter() - start


def lookup(path: str, n: int, seed: int) -> dict:
    """In a fresh process: what a new user pays to ask the store about every key it holds."""
    keys = keys_for(n, seed)
    start = time.perf_counter()
    store = open_store(path)
    mask = store.contains("bench", keys)
    contains = time.perf_counter() - start
    assert mask.all()
    picks = [keys[i] for i in np.random.default_rng(1).choice(n, 10_000, replace=False)]
    start = time.perf_counter()
    vectors = store.get("bench", picks)
    get = time.perf_counter() - start
    return {
        "contains_s": contains,
        "get_s": get,
        "index_mb": store.index_bytes("bench") / 1e6,
        "shape": list(vectors.shape),
    }


def in_fresh_process(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"bench child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def report_store(label: str, path: Path, n: int, seed: int) -> None:
    os.sync()  # time the lookups, not the build's writeback
    # the median of three fresh processes: the first can meet a disk still busy with the build
    runs = [in_fresh_process("_lookup", str(path), str(n), str(seed)) for _ in range(3)]
    result = {name: float(np.median([run[name] for run in runs])) for name in runs[0] if name != "shape"}
    store = open_store(path)
    segments = store.segments()
    size = sum(s.bytes for s in segments)
    print(
        f"{label}: open + contains({n:,}) {result['contains_s']:.3f}s (target < 0.5 s at 1M) | "
        f"get(10k random) {result['get_s']:.3f}s (target < 0.3 s) | index {result['index_mb']:.0f} MB "
        f"({result['index_mb'] / n * 1e6:.0f} MB per million) | {len(segments)} segments, "
        f"{size / 1e9:.2f} GB on disk",
        flush=True,
    )


def numbered(folder: Path, n: int):
    """(i, path) for n files named by their index, 1,000 to a folder (made as they are reached)."""
    for i in range(n):
        path = folder / f"{i // 1000:04d}" / f"{i:07d}.png"
        if i % 1000 == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        yield i, path


def make_images(folder: Path, n: int) -> list[Path]:
    """Image i is a function of i alone: a smooth random picture seeded by i."""
    from PIL import Image

    paths = []
    for i, path in numbered(folder, n):
        coarse = np.random.default_rng(i).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((48, 40), Image.BILINEAR).save(path, compress_level=1)
        paths.append(path)
    return paths


def peak_mb() -> float:
    """This process's peak resident memory. Not ru_maxrss: Linux carries that over from the
    parent through exec, so a child of the bench would report the bench's own peak."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))


def embed_images(folder: str, store: str, engine: str) -> dict:
    """In a fresh process: embed every image under `folder` with one engine, as a user would."""
    from features.engines.registry import extract_with
    from features.engines.settings import EngineSettings
    from features.images.listing import list_images
    from features.networks.extractor import ExtractorConfig

    paths = list_images([Path(folder)]).images
    tiny = ExtractorConfig("resnet18", "none", resize=32, crop=32, precision="fp32", runtime="torch")
    start = time.perf_counter()
    # Ray starts on this machine, every core, and only when something is missing.
    extractor, report = extract_with(
        engine, paths, open_store(store), tiny,
        EngineSettings(device="cpu", batch_size=256), progress=False,
    )  # fmt: skip
    return {
        "seconds": time.perf_counter() - start,
        "computed": report.computed,
        "reused": report.reused,
        "failed": len(report.failures),
        "peak_mb": peak_mb(),
        "fingerprint": extractor.fingerprint,
        "keys": report.keys[:: max(1, len(report.keys) // 10_000)],
    }


def make_files(folder: Path, n: int) -> None:
    """n distinct 8-byte files: planning stats them, nothing decodes them."""
    for i, path in numbered(folder, n):
        path.write_bytes(i.to_bytes(8, "little"))


def plan_memory(folder: str, store: str, how: str) -> dict:
    """In a fresh process: plan every file under `folder` against `store` (keys learned `how`),
    tracemalloc's peak and what the plan still holds, the listing itself not counted."""
    import tracemalloc

    from features.extraction.plan import plan_extraction
    from features.hashing.cache import hash_files

    paths = sorted(str(p) for p in Path(folder).rglob("*.png"))
    target = open_store(store)
    keys = hash_files(paths, target.hash_cache() if how == "cache" else None)[0] if how != "none" else None
    tracemalloc.start()
    start = time.perf_counter()
    plan = plan_extraction(paths, target, "f" * 16, keys if how == "given" else None)
    seconds = time.perf_counter() - start
    held, peak = tracemalloc.get_traced_memory()
    return {"n": len(paths), "peak": peak, "held": held, "seconds": seconds, "todo": len(plan.todo)}


def bench_plan(base: Path, n: int) -> None:
    start = time.perf_counter()
    make_files(base / "files", n)
    print(f"plan: {n:,} files made in {time.perf_counter() - start:.0f}s", flush=True)
    ways = (("none", "no key known"), ("cache", "keys from the hash cache"), ("given", "keys given"))
    for how, label in ways:
        got = in_fresh_process("_plan", str(base / "files"), str(base / f"store-{how}"), how)
        print(
            f"plan of {got['n']:,} files, {label}: peak {got['peak'] / got['n']:.0f} B per image, "
            f"held {got['held'] / got['n']:.0f} B per image (target < 500) | {got['seconds']:.1f}s, "
            f"{got['todo']:,} to decode",
            flush=True,
        )


def bench_images(base: Path, sizes: list[int]) -> None:
    rates, times = {}, {}
    for n in sizes:
        folder = base / f"images_{n}"
        start = time.perf_counter()
        make_images(folder, n)
        print(f"\n{n:,} synthetic images made in {time.perf_counter() - start:.0f}s", flush=True)
        for engine in ("local", "ray"):
            store = base / f"store_{engine}_{n}"
            run = in_fresh_process("_embed", str(folder), str(store), engine)
            again = in_fresh_process("_embed", str(folder), str(store), engine)
            rates[(engine, n)] = run["computed"] / run["seconds"]
            times[(engine, n)] = run["seconds"]
            picks = run["keys"]
            t0 = time.perf_counter()
            fs = open_store(store)
            fs.contains(run["fingerprint"], picks)
            vectors = fs.get(run["fingerprint"], picks)
            lookups = time.perf_counter() - t0
            size = sum(s.bytes for s in fs.segments())
            print(
                f"{engine:5s} N={n:,}: {run['computed']:,} computed in {run['seconds']:.1f}s = "
                f"{rates[(engine, n)]:,.0f} img/s | driver peak {run['peak_mb']:,.0f} MB | store "
                f"{size / 1e6:,.0f} MB, {len(fs.segments())} segments | open + contains + get of "
                f"{len(vectors):,} keys {lookups:.2f}s | re-run: {again['computed']} computed, "
                f"{again['reused']:,} reused in {again['seconds']:.1f}s",
                flush=True,
            )
            shutil.rmtree(store)
        print(f"Ray / local time at N={n:,}: {times[('ray', n)] / times[('local', n)]:.2f}x (target <= 1.2x)")
        shutil.rmtree(folder)
    for engine in ("local", "ray"):
        values = [rates[(engine, n)] for n in sizes]
        print(
            f"{engine}: img/s from N={sizes[0]:,} to N={sizes[-1]:,}: "
            + " -> ".join(f"{v:,.0f}" for v in values)
            + f" (largest / smallest {values[-1] / values[0]:.2f}; flat within 15%: 0.85-1.15)"
        )
    if len(sizes) > 1:  # split each engine's time into a fixed part and a part per image
        n0, n1 = sizes[0], sizes[-1]
        marginal = {e: (n1 - n0) / (times[(e, n1)] - times[(e, n0)]) for e in ("local", "ray")}
        fixed = {e: times[(e, n1)] - n1 / marginal[e] for e in ("local", "ray")}
        ratio = marginal["local"] / marginal["ray"]
        print(
            f"from N={n0:,} to N={n1:,}, per image: local {marginal['local']:,.0f} img/s, ray "
            f"{marginal['ray']:,.0f} img/s (Ray / local time per image {ratio:.2f}x) | fixed: local "
            f"{fixed['local']:.1f}s, ray {fixed['ray']:.1f}s (starting Ray and its actors, stopping it)"
        )


def main() -> None:
    if sys.argv[1:2] == ["_lookup"]:
        print(json.dumps(lookup(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        return
    if sys.argv[1:2] == ["_plan"]:
        print(json.dumps(plan_memory(*sys.argv[2:5])))
        return
    if sys.argv[1:2] == ["_embed"]:
        print(json.dumps(embed_images(*sys.argv[2:5])))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", default="store,images", help="store, images, plan: any of them")
    parser.add_argument("--images", default="10000,100000", help="synthetic image counts, smallest first")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--plan-n", type=int, default=1_000_000, help="files the plan part plans")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--big-n", type=int, default=10_000_000)
    parser.add_argument("--big-dim", type=int, default=16)
    parser.add_argument("--put-n", type=int, default=131_072, help="vectors for the put and disk tests")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to build the stores (default: a temp dir)"
    )
    parser.add_argument("--out", type=Path, default=None, help="the results file (default: by --parts)")
    args = parser.parse_args()
    parts = args.parts.split(",")
    out = args.out or RESULTS / f"scale-{'-'.join(parts)}.txt"
    with RecordedOutput(out):
        bench_parts(parts, args)


def bench_parts(parts: list[str], args: argparse.Namespace) -> None:
    base = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        if "store" in parts:
            bench_store(base, args)
        if "images" in parts:
            bench_images(base, [int(n) for n in args.images.split(",")])
        if "plan" in parts:
            bench_plan(base, args.plan_n)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def bench_store(base: Path, args: argparse.Namespace) -> None:
    nbytes = args.put_n * args.dim * 4
    disk = disk_mb_per_s(base, nbytes)
    seconds = fill(open_store(base / "put"), args.put_n, args.dim, seed=7, batch=256)
    rate = args.put_n / seconds
    mb = nbytes / seconds / 1e6
    print(
        f"put: {rate:,.0f} vectors/s ({args.dim}-d float32, batches of 256, publish included) = "
        f"{mb:,.0f} MB/s | disk sequential write + fsync {disk:,.0f} MB/s "
        f"({disk * 1e6 / (4 * args.dim):,.0f} vectors/s) | ratio {mb / disk:.2f}x (target >= 0.7x)",
        flush=True,
    )
    shutil.rmtree(base / "put")
    for label, n, dim, seed in (
        ("store of n", args.n, args.dim, 1),
        ("store of big-n", args.big_n, args.big_dim, 2),
    ):
        path = base / label.replace(" ", "_")
        seconds = fill(open_store(path), n, dim, seed=seed, batch=65_536)
        print(f"built {n:,} x {dim}-d in {seconds:.0f}s", flush=True)
        report_store(f"{n:,} x {dim}-d", path, n, seed)
        print(f"  compact: {open_store(path).compact()}", flush=True)
        report_store(f"{n:,} x {dim}-d, compacted", path, n, seed)
        shutil.rmtree(path)


if __name__ == "__main__":
    main()
