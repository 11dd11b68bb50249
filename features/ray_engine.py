"""Extraction on Ray Data: CPU tasks decode, an actor pool embeds, the driver writes the store.

Ray's batch-inference pattern: `map_batches` decodes on CPU workers (uint8 arrays, never
PIL objects, in the object store), an actor pool runs the network (one actor per GPU, the
model loaded once per actor), and the vectors stream back to the driver, which deduplicates
before anything starts and writes what arrives through one segment writer. The store
therefore needs to be reachable from the driver only, and the workers need the images and
the weights at the same paths. Ray is an optional extra: `pip install -e ".[ray]"`.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .exceptions import ConfigError, FeaturesError, ImageReadError, StoreError
from .extract import ExtractionReport, Plan, plan_extraction
from .extractor import Extractor, create_extractor
from .images import read_image
from .preprocess import Preprocessing
from .runtime import resolve_device, resolve_precision, usable_cores
from .store import FeatureStore

INSTALL = 'the Ray engine needs Ray: pip install -e ".[ray]" (or pip install "ray[data]")'


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run. Defaults: one actor per GPU in the cluster; without GPUs,
    one actor per node, using all of that node's cores."""

    address: str | None = None  # a running cluster ("auto", "ray://host:10001"); None: start one here
    actors: int | None = None
    gpus_per_actor: float | None = None


def require_ray():
    """The ray module, or a ConfigError that says what to install."""
    try:
        import ray
        import ray.data  # noqa: F401  (the [data] extra)
    except ImportError as exc:
        raise ConfigError(f"{INSTALL} ({exc})") from None
    return ray


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


def worker_precision(precision: str, device: str, options: RayOptions) -> str:
    """`precision` as an actor resolves it on its own device: `auto` means bf16 on the
    workers' GPUs even when the driver's CPU lacks it, and the fingerprint must say so.
    Only `auto` asks the cluster (and so starts or reaches Ray)."""
    if precision != "auto":
        return resolve_precision(precision, torch.device("cpu"))  # checks the value
    ray = require_ray()
    with ray_session(options.address):
        gpus = _gpus_per_actor(options)

        @ray.remote(num_cpus=0 if gpus else 1, num_gpus=gpus)
        def resolve() -> str:
            return resolve_precision(precision, resolve_device(device))

        return ray.get(resolve.remote())


def driver_extractor(device: str, precision: str, options: RayOptions, **create_args) -> Extractor:
    """The driver's extractor: on its CPU (it only names the vectors), at the precision the
    actors will resolve (`worker_precision`); `create_args` go to `create_extractor`."""
    return create_extractor(
        device="cpu", precision=worker_precision(precision, device, options), **create_args
    )


def extract_ray(
    paths: Sequence[str | os.PathLike],
    store: FeatureStore,
    extractor: Extractor,
    keys: Sequence[str] | None = None,
    batch_size: int = 32,
    device: str = "auto",
    options: RayOptions = RayOptions(),
    progress: bool = True,
) -> ExtractionReport:
    """`extract` on a Ray cluster: the same keys, failures and vectors as the local engine.

    `extractor` is the driver's: its fingerprint and recipe. Each actor rebuilds it from the
    recipe on `device` and stops if its fingerprint differs (other weights on that node, or a
    precision its GPU resolves differently). Ray is reached (`ray_session(options.address)`)
    only when the store lacks something, so a re-run with nothing to do never starts it.
    """
    ray = require_ray()
    if extractor.recipe is None:
        raise ConfigError(
            "the Ray engine rebuilds the extractor on each actor: build it with create_extractor"
        )
    start = time.perf_counter()
    plan = plan_extraction(paths, store, extractor.fingerprint, keys)
    report = plan.report
    if plan.todo:
        with ray_session(options.address):
            _embed_on_ray(ray, plan, store, extractor, batch_size, device, options, progress)
        store.add_failures([f for f in report.failures if f.key])
    report.seconds = time.perf_counter() - start
    return report


def _embed_on_ray(
    ray,
    plan: Plan,
    store: FeatureStore,
    extractor: Extractor,
    batch_size: int,
    device: str,
    options: RayOptions,
    progress: bool,
) -> None:
    """Decode and embed `plan.todo` on the cluster; write the vectors, record the failures."""
    gpus = _gpus_per_actor(options)
    actors = options.actors or _default_actors(gpus)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the driver's bar below counts images
    items = [{"position": i, "path": plan.paths[i]} for i in plan.todo]
    # Without a GPU, Ray fuses decoding into the actor (inline, as the local engine decodes
    # on a CPU); an actor that holds a GPU gets its images decoded by CPU tasks.
    blocks = max(1, min(math.ceil(len(items) / (4 * batch_size)), 10_000))
    vectors = (
        ray.data.from_items(items, override_num_blocks=blocks)
        .map_batches(
            _decode,
            fn_kwargs={"preprocessing": extractor.backbone.preprocessing},
            batch_size=batch_size,
            batch_format="numpy",
            num_cpus=1,
        )
        .map_batches(
            _Embedder,
            fn_constructor_kwargs={
                "recipe": extractor.recipe,
                "device": device,
                "fingerprint": extractor.fingerprint,
                "all_cores": not gpus,
            },
            batch_size=batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_gpus=gpus,
            num_cpus=1,
        )
    )
    desc = f"embedding on {actors} Ray actor(s)"
    bar = tqdm(total=len(items), unit="img", desc=desc, disable=not progress)
    with bar, store.writer(extractor.fingerprint, extractor.spec) as writer, _actor_errors(ray):
        for batch in vectors.iter_batches(batch_size=None, batch_format="numpy"):
            ok, positions = batch["error"] == "", batch["position"]
            failed = list(zip(positions[~ok].tolist(), batch["error"][~ok], strict=True))
            plan.record(writer, bar, positions[ok].tolist(), batch["vector"][ok], failed)


def _decode(batch: dict[str, np.ndarray], preprocessing: Preprocessing) -> dict[str, np.ndarray]:
    """Paths to (n, 3, crop, crop) uint8 arrays; an undecodable image keeps its row with its
    reason in `error` (its pixels are left zero and never embedded)."""
    n, crop = len(batch["path"]), preprocessing.crop
    images = np.zeros((n, 3, crop, crop), dtype=np.uint8)
    errors = np.full(n, "", dtype=object)
    for i, path in enumerate(batch["path"]):
        try:
            images[i] = preprocessing.to_uint8(read_image(path)).numpy()
        except ImageReadError as exc:
            errors[i] = exc.reason
    return {"position": batch["position"], "image": images, "error": errors}


class _Embedder:
    """One per actor: the extractor built once from the driver's recipe, checked against its fingerprint."""

    def __init__(self, recipe: dict, device: str, fingerprint: str, all_cores: bool):
        if all_cores:  # Ray gives a worker one thread; without a GPU the actor is its node's network
            torch.set_num_threads(usable_cores())
        self.extractor = create_extractor(device=device, **recipe)
        if self.extractor.fingerprint != fingerprint:
            raise StoreError(
                f"a Ray actor built extractor {self.extractor.fingerprint} {self.extractor.spec}, not the "
                f"driver's {fingerprint}: its vectors would be filed under the wrong extractor. Give "
                "every node the same weights, torchvision and --precision (bf16 or fp32, not auto)"
            )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ok = batch["error"] == ""
        vectors = np.full((len(ok), self.extractor.dim), np.nan, dtype=np.float32)
        if ok.any():
            vectors[ok] = self.extractor(torch.from_numpy(batch["image"][ok]))
        return {"position": batch["position"], "vector": vectors, "error": batch["error"]}


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
    if gpus_per_actor:
        return max(1, int(_cluster("GPU") // gpus_per_actor))
    ray = require_ray()
    return max(1, sum(1 for node in ray.nodes() if node.get("Alive")))


def _cluster(resource: str) -> float:
    return float(require_ray().cluster_resources().get(resource, 0.0))
