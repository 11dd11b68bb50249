"""The network on a faster CPU runtime: one ONNX export of the torchvision module, run by ONNX
Runtime or OpenVINO.

The export is made from the very module the torch runtime runs, once per network (keyed by
the torch fingerprint), and cached in a folder beside the store; every session built on it
is checked against torch on a few images before it embeds anything. Gradients (fine-tuning,
attacks) stay on torch: these runtimes only embed.
"""

from __future__ import annotations

import copy
import importlib.metadata
import importlib.util
import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..exceptions import ConfigError
from . import side_files

log = logging.getLogger(__name__)

OPSET = 17
INPUT, OUTPUT = "images", "vectors"
DEFAULT_EXPORTS = Path("~/.cache/workbench/exports")
# Cosine to torch fp32 below which a runtime's vectors mean a broken export, by precision.
# bf16's bound loosens to what torch's own bf16 costs the network (check_against_torch).
MIN_COSINE = {"fp32": 0.99999, "bf16": 0.9999, "int8": 0.995}  # int8: 0.9995 measured on ResNet-50
PACKAGES = {"onnxruntime": ("onnxruntime", "onnx"), "openvino": ("openvino", "onnx")}
INSTALL = {  # what brings each runtime's packages back
    "onnxruntime": "pip install -e . (the base install has it)",
    "openvino": 'pip install -e ".[openvino]"',
}

Network = Callable[[np.ndarray], np.ndarray]  # normalised float32 NCHW images -> vectors


def installed(runtime: str) -> bool:
    """Whether the packages `runtime` needs (and the ONNX exporter's) can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in PACKAGES[runtime])


def require(runtime: str) -> None:
    if not installed(runtime):
        missing = [name for name in PACKAGES[runtime] if importlib.util.find_spec(name) is None]
        raise ConfigError(
            f"runtime {runtime}: {', '.join(missing)} not installed; {INSTALL[runtime]}, "
            "or choose runtime torch"
        )


def version(runtime: str) -> str:
    """`runtime` and its version, as the fingerprint records it ("onnxruntime 1.32.0")."""
    return f"{runtime} {importlib.metadata.version(PACKAGES[runtime][0])}"


def exported_model(model: nn.Module, crop: int, key: str, directory: Path) -> Path:
    """The ONNX file of `model` for `crop`-pixel inputs, built once per `key` (published by
    rename, so a reader never sees half of one) and reused after."""
    directory = directory.expanduser()
    path = directory / f"{key}-{crop}.onnx"
    if side_files.usable(path):  # its recorded content hash checked: a changed file is built again
        return path
    directory.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    log.info("exporting the network to ONNX once, for the CPU runtimes: %s", path)
    cpu = copy.deepcopy(model).float().to("cpu", memory_format=torch.contiguous_format).eval()
    write_onnx(cpu, torch.zeros(1, 3, crop, crop), part, INPUT, [OUTPUT], name=path, fix="use runtime torch")
    side_files.publish(part, path)
    return path


def write_onnx(
    model: nn.Module,
    example: torch.Tensor,
    path: Path,
    input_name: str,
    output_names: list[str],
    *,
    name: Path,
    fix: str,
) -> None:
    """`model` (on the CPU, in fp32) traced on `example` into an ONNX file at `path`, its batch axis
    dynamic. Stops with ConfigError saying `fix` when the exporter cannot (`name`: the file meant)."""
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # its fused attention op has no ONNX form
    dynamic = {input_name: {0: "batch"}, **{output: {0: "batch"} for output in output_names}}
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            # the TorchScript exporter, chosen: no onnxscript to install, one static graph
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            # the exporter's note that it leaves a strided Slice unfolded: harmless, and printed thrice
            warnings.filterwarnings("ignore", message="Constant folding - Only steps=1", category=UserWarning)
            torch.onnx.export(
                model,
                (example,),
                str(path),
                input_names=[input_name],
                output_names=output_names,
                dynamic_axes=dynamic,
                opset_version=OPSET,
                dynamo=False,
            )
    except OSError as exc:  # a full disk is the disk's fault, not the network's
        path.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(name)) from exc
    except Exception as exc:  # the exporter raises many types
        path.unlink(missing_ok=True)
        raise ConfigError(f"{name}: the network could not be exported to ONNX ({exc}); {fix}") from exc
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


def open_network(runtime: str, path: Path, precision: str, threads: int) -> Network:
    """A session of `runtime` on the exported model, at `precision`, on `threads` threads."""
    if runtime == "onnxruntime":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return lambda images: session.run(None, {INPUT: images})[0]
    if runtime == "openvino":
        import openvino as ov

        core = ov.Core()
        core.set_property({"CACHE_DIR": str(path.parent / "openvino-cache")})  # compiled once per machine
        compiled = core.compile_model(
            core.read_model(str(path)),
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
                "PERFORMANCE_HINT": "LATENCY",  # one stream on every thread: 1.9x the throughput hint here
                "INFERENCE_NUM_THREADS": threads,
            },
        )
        request = compiled.create_infer_request()
        return lambda images: request.infer({0: images})[0].copy()
    raise ValueError(f"no exported runtime {runtime!r}")


def check_against_torch(
    network: Network,
    model: nn.Module,
    crop: int,
    runtime: str,
    precision: str,
    images: np.ndarray | None = None,
) -> None:
    """Stop unless `network` gives torch's vectors (fp32) on `images` (normalised), by default a
    few seeded random ones."""
    if images is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            images = torch.randn(4, 3, crop, crop).numpy()
    with torch.inference_mode():
        expected = model.float()(torch.from_numpy(images)).numpy()
    cosine = _cosine(network(images), expected)
    bound = MIN_COSINE[precision]
    if precision == "bf16":
        # bf16 costs each network what torch's own bf16 costs it (ResNet-50 1e-5 of cosine,
        # EfficientNet-Lite0's depthwise convolutions 2e-4): a runtime may lose up to 4x that
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            own = _cosine(model(torch.from_numpy(images)).float().numpy(), expected).min()
        bound = min(bound, 1 - 4 * (1 - own))
    if precision == "int8" and np.isfinite(cosine).all() and cosine.min() < bound:
        raise ConfigError(
            f"precision int8 loses too much on this network: its quantized model gives min cosine "
            f"{cosine.min():.4f} to torch fp32 on its calibration images, below {bound} (networks of "
            "depthwise convolutions, as EfficientNet-Lite, quantize this badly). Use precision fp32 or bf16"
        )
    if not np.isfinite(cosine).all() or cosine.min() < bound:
        raise ConfigError(
            f"runtime {runtime} ({precision}) does not give torch's vectors for this network (min cosine "
            f"{cosine.min():.7f} to torch fp32, below {bound:.7f}): the export is broken for it. Use runtime "
            "torch, and report the architecture and the versions of torch and the runtime"
        )


def _cosine(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return (got * expected).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1) + 1e-30)
