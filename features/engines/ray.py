"""Extraction on Ray Data: CPU tasks read, hash and decode, an actor pool embeds, the driver writes.

Ray's batch-inference pattern: `map_batches` decodes on CPU workers (uint8 arrays, never
PIL objects, in the object store), an actor pool runs the network (one actor per GPU, the
model loaded once per actor), and the vectors stream back to the driver, which writes them
through one segment writer. The driver deduplicates against the store before anything
starts, for every file whose key the hash cache knows; files it does not know are hashed on
the cluster, by the tasks that read them to decode, and a claims actor holding the stored
keys lets each distinct new content through once, so nothing stored or repeated reaches the
network. The store therefore needs to be reachable from the driver only, and the workers
need the images and the weights at the same paths. Ray is an optional extra:
`pip install -e ".[ray]"`.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
import torch

from ..exceptions import ConfigError, FeaturesError, StoreError
from ..extraction.claims import Claims, Verdict
from ..extraction.plan import Plan, plan_extraction
from ..extraction.recorder import EmbeddedBatch, record_all
from ..extraction.report import ExtractionReport
from ..images.preprocessing import Preprocessing
from ..images.reading import read_keyed
from ..networks.extractor import Extractor, ExtractorConfig
from ..networks.runtimes import resolve_runtime
from ..store.base import Store
from .ray_options import RayOptions, require_ray
from .settings import EngineSettings


@contextlib.contextmanager
def ray_session(address: str | None = None) -> Iterator[None]:
    """Connect to `address` (or start Ray on this machine), unless this process is connected
    already; disconnect at the end only what was connected here."""
    ray = require_ray()
    if ray.is_initialized():
        yield
        return
    ray.init(address=address, include_dashboard=False, configure_logging=False, log_to_driver=True)
    try:
        yield
    finally:
        ray.shutdown()


def worker_choices(runtime: str, precision: str, device: str, options: RayOptions) -> tuple[str, str]:
    """(runtime, precision) as an actor resolves them on its own device: `auto` means torch at
    bf16 on the workers' GPUs, or OpenVINO at bf16 on their native-bf16 CPUs, even when the driver
    lacks both, and the fingerprint must say so. Only `auto` asks the cluster (and so starts
    or reaches Ray)."""
    if "auto" not in (runtime, precision):
        return runtime, precision
    ray = require_ray()
    with ray_session(options.address):
        gpus = _gpus_per_actor(options)

        @ray.remote(num_cpus=0 if gpus else 1, num_gpus=gpus)
        def resolve() -> tuple[str, str]:
            chosen, _, resolved = resolve_runtime(runtime, device, precision)
            return chosen, resolved

        return ray.get(resolve.remote())


def driver_extractor(config: ExtractorConfig, device: str, options: RayOptions) -> Extractor:
    """The driver's extractor, which only names the vectors (its runtime is not opened), at
    the runtime and precision the actors will resolve."""
    runtime, precision = worker_choices(config.runtime, config.precision, device, options)
    resolved = replace(config, runtime=runtime, precision=precision)
    return resolved.create("cpu", open_runtime=runtime == "torch")


def prepare(store: Store, config: ExtractorConfig, how: EngineSettings) -> tuple[Extractor, str]:
    """The driver's extractor (see `driver_extractor`), and where the network runs in words."""
    extractor = driver_extractor(config, how.device, how.ray)
    return extractor, f"on Ray ({how.device})"


def run(
    paths: Sequence[str | os.PathLike],
    store: Store,
    extractor: Extractor,
    keys: Sequence[str] | None = None,
    how: EngineSettings | None = None,
    progress: bool = True,
) -> ExtractionReport:
    """`extract` on a Ray cluster: the same keys, failures and vectors as the local engine.

    `extractor` is the driver's: its fingerprint and config. Each actor rebuilds it from the
    config on `how.device` and stops if its fingerprint differs (other weights on that node, or a
    precision its GPU resolves differently). Ray is reached (`ray_session(options.address)`)
    only when a file is new to the hash cache or its content is missing from the store, so a
    re-run over unchanged files with nothing to do never starts it.
    """
    ray = require_ray()
    how = how or EngineSettings()
    options = how.ray
    if extractor.config is None:
        raise ConfigError(
            "the Ray engine rebuilds the extractor on each actor: build it with create_extractor"
        )
    start = time.perf_counter()
    plan = plan_extraction(paths, store, extractor.fingerprint, keys)
    if not len(plan.todo):
        report = plan.empty_report()
    else:
        with ray_session(options.address), _actor_errors(ray):
            gpus = _gpus_per_actor(options)
            actors = options.actors or _default_actors(gpus)
            batches = ray_batches(ray, plan, store, extractor, how.batch_size, how.device, actors, gpus)
            desc = f"embedding on {actors} Ray actor(s)"
            report = record_all(plan, store, extractor.spec, batches, desc, progress)
    report.seconds = time.perf_counter() - start
    return report


def ray_batches(
    ray,
    plan: Plan,
    store: Store,
    extractor: Extractor,
    batch_size: int,
    device: str,
    actors: int,
    gpus: float,
) -> Iterator[EmbeddedBatch]:
    """The Ray engine: `plan.todo` decoded by CPU tasks and embedded by `actors` actors of
    `gpus` GPUs each, streamed back as batches."""
    # Without GPUs, an actor per core, each one thread, decoding its own images: on 2 cores
    # one actor decodes while the other computes, 1.4x faster than one actor of 2 threads
    # for bench/scale.py's small network, as fast for ResNet-50. The decoding asks for the
    # actor's CPUs, so that Ray fuses it into the actor rather than wait for a free core.
    cpus = 1 if gpus else max(1, int(_cluster("CPU")) // actors)
    ray.data.DataContext.get_current().enable_progress_bars = False  # the recorder's bar counts images
    claims = None  # only files hashed on the cluster need to ask what is stored
    if len(plan.stale):
        # restarted from its arguments if its node is lost: at worst a repeated file is
        # embedded twice, and the writer keeps one copy
        restarting = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(Claims)
        claims = restarting.remote(*plan.known_keys(store))
    vectors = (
        ray.data.from_arrow(_blocks_of_work(plan, batch_size))
        .map_batches(
            _decode,
            fn_kwargs={"preprocessing": extractor.backbone.preprocessing, "claims": claims},
            batch_size=batch_size,
            batch_format="numpy",
            num_cpus=cpus,
        )
        .map_batches(
            _Embedder,
            fn_constructor_kwargs={
                "config": extractor.config,
                "device": device,
                "fingerprint": extractor.fingerprint,
                "threads": cpus,
            },
            batch_size=batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_gpus=gpus,
            num_cpus=cpus,
        )
    )
    for arrays in vectors.iter_batches(batch_size=None, batch_format="numpy"):
        yield _as_batch(arrays)


def _blocks_of_work(plan: Plan, batch_size: int) -> list:
    """The files to embed, as Arrow tables of a batch or more each (at most 10,000 blocks):
    built 2.5x faster than `from_items` rows, which take a second per 100k files."""
    import pyarrow as pa  # a dependency of ray[data]

    todo = plan.todo
    table = pa.table(
        {"position": todo, "path": [plan.path(i) for i in todo.tolist()], "hash": plan.is_stale(todo)}
    )
    rows = max(batch_size, math.ceil(len(todo) / 10_000))
    return [table.slice(start, rows) for start in range(0, len(todo), rows)]


def _as_batch(arrays: dict[str, np.ndarray]) -> EmbeddedBatch:
    """The actors' rows as the recorder takes them."""
    positions, errors, verdicts = arrays["position"].tolist(), arrays["error"], arrays["verdict"]
    ok = errors == ""
    return EmbeddedBatch(
        positions=[p for p, good in zip(positions, ok, strict=True) if good],
        verdicts=[Verdict(v) for v in verdicts[ok]],
        vectors=arrays["vector"][ok & (verdicts == Verdict.EMBED.value)],
        failures=[(p, errors[i]) for i, p in enumerate(positions) if not ok[i]],
        learned={p: key for p, key in zip(positions, arrays["key"], strict=True) if key},
    )


def _decode(batch: dict[str, np.ndarray], preprocessing: Preprocessing, claims) -> dict[str, np.ndarray]:
    """Paths to (n, 3, crop, crop) uint8 arrays. Rows flagged `hash` are hashed from the bytes
    read and their keys claimed: `verdict` says "stored" or "repeated" for bytes the store or
    another file of the run has. An undecodable image keeps its row with its reason in
    `error`. Pixels of rows not to embed are left zero."""
    n, crop = len(batch["path"]), preprocessing.crop
    images = np.zeros((n, 3, crop, crop), dtype=np.uint8)
    errors, keys = np.full(n, "", dtype=object), np.full(n, "", dtype=object)
    verdicts = np.full(n, Verdict.EMBED.value, dtype=object)
    for i, (path, hash) in enumerate(zip(batch["path"], batch["hash"], strict=True)):
        read = read_keyed(path, bool(hash))
        keys[i] = read.key or ""
        if read.image is None:
            errors[i] = read.error
        else:
            images[i] = preprocessing.to_uint8(read.image).numpy()
    claim = np.flatnonzero(batch["hash"] & (errors == ""))
    if len(claim):
        asked = claims.claim.remote(keys[claim].tolist(), batch["position"][claim].tolist())
        verdicts[claim] = [verdict.value for verdict in require_ray().get(asked)]
    return {"position": batch["position"], "key": keys, "verdict": verdicts, "image": images, "error": errors}


class _Embedder:
    """One per actor: the extractor built once from the driver's config, checked against its fingerprint."""

    def __init__(self, config: ExtractorConfig, device: str, fingerprint: str, threads: int):
        torch.set_num_threads(threads)  # Ray gives the actor `threads` CPUs
        self.extractor = config.create(device)
        if self.extractor.fingerprint != fingerprint:
            raise StoreError(
                f"a Ray actor built extractor {self.extractor.fingerprint} {self.extractor.spec}, not the "
                f"driver's {fingerprint}: its vectors would be filed under the wrong extractor. Give "
                "every node the same weights, torchvision, runtime and --precision (bf16 or fp32, not auto)"
            )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        embed = (batch["error"] == "") & (batch["verdict"] == Verdict.EMBED.value)
        vectors = np.full((len(embed), self.extractor.dim), np.nan, dtype=np.float32)
        if embed.any():
            vectors[embed] = self.extractor(torch.from_numpy(batch["image"][embed]))
        out = {name: batch[name] for name in ("position", "key", "verdict", "error")}
        return {**out, "vector": vectors}


@contextlib.contextmanager
def _actor_errors(ray) -> Iterator[None]:
    """An actor that refused to start (a fingerprint mismatch, missing weights) as the
    library's own error, its message first, rather than Ray's traceback around it."""
    try:
        yield
    except ray.exceptions.RayActorError as exc:
        ours = [line for line in str(exc).splitlines() if line.startswith("features.exceptions.")]
        if not ours:
            raise
        raise FeaturesError(f"a Ray actor could not start: {ours[-1].split(': ', 1)[1]}") from exc


def _gpus_per_actor(options: RayOptions) -> float:
    if options.gpus_per_actor is not None:
        return options.gpus_per_actor
    return 1.0 if _cluster("GPU") > 0 else 0.0


def _default_actors(gpus_per_actor: float) -> int:
    """One per GPU; without GPUs, one per core (each single-threaded, decoding its own images)."""
    if gpus_per_actor:
        return max(1, int(_cluster("GPU") // gpus_per_actor))
    return max(1, int(_cluster("CPU")))


def _cluster(resource: str) -> float:
    return float(require_ray().cluster_resources().get(resource, 0.0))
