"""Device, precision and runtime choices: what `auto` means on this machine."""

from __future__ import annotations

import functools
import os

import torch

from ..constants import CPU_RUNTIMES, DEVICES, PRECISIONS, RUNTIMES
from ..exceptions import ConfigError


def resolve_device(device: str) -> torch.device:
    """`auto` is CUDA when present, else the CPU; asking for absent CUDA is an error."""
    if device not in DEVICES:
        raise ConfigError(f"device: got {device!r}; choose from {list(DEVICES)}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: got 'cuda' but no CUDA device is visible; use 'auto' or 'cpu'")
    return torch.device(device)


def resolve_precision(precision: str, device: torch.device) -> str:
    """`auto` is bf16 where the hardware computes it natively, else fp32."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision: got {precision!r}; choose from {list(PRECISIONS)}")
    if precision != "auto":
        return precision
    return "bf16" if supports_bf16(device) else "fp32"


def resolve_runtime(runtime: str, device: str, precision: str) -> tuple[str, torch.device, str]:
    """(runtime, device, precision) with every `auto` settled, deterministically.

    `auto` is torch on a CUDA device; on a CPU, the fastest runtime installed, by what
    bench/extract.py measured for ResNet-50 on 2 cores (network alone, against torch fp32):
    where bf16 is native (AVX-512 BF16, AMX) OpenVINO at bf16 (4.0x) or else torch at bf16
    (2.7x); elsewhere ONNX Runtime at fp32 (2.0x), else OpenVINO at fp32 (also 2.0x, 1.4x on
    another machine), else torch.
    The CPU runtimes run on the CPU only, ONNX Runtime at fp32 or int8 (its CPU provider has no
    bf16 convolutions); int8 is ONNX Runtime's alone, and `precision: auto` never picks it.
    """
    from .onnx_export import installed, require

    if runtime not in RUNTIMES:
        raise ConfigError(f"runtime: got {runtime!r}; choose from {list(RUNTIMES)}")
    if precision not in PRECISIONS:
        raise ConfigError(f"precision: got {precision!r}; choose from {list(PRECISIONS)}")
    if precision == "int8":
        return _int8_runtime(runtime, device)
    if runtime in CPU_RUNTIMES and device == "auto":
        device = "cpu"
    torch_device = resolve_device(device)
    if runtime == "auto":
        runtime = _fastest(torch_device, precision, installed)
    if runtime == "torch":
        return runtime, torch_device, resolve_precision(precision, torch_device)
    if torch_device.type != "cpu":
        raise ConfigError(f"runtime {runtime} runs on the CPU: set device cpu (or auto), or runtime torch")
    require(runtime)
    if runtime == "onnxruntime":
        if precision == "bf16":
            raise ConfigError(
                "runtime onnxruntime: its CPU provider has no bf16 convolutions; choose precision fp32, "
                "or runtime openvino or torch for bf16"
            )
        return runtime, torch_device, "fp32"
    return runtime, torch_device, resolve_precision(precision, torch_device)


def _int8_runtime(runtime: str, device: str) -> tuple[str, torch.device, str]:
    """int8 is ONNX Runtime's static quantization, on the CPU: `auto` means that, and nothing
    else runs it."""
    from .onnx_export import require

    if runtime not in ("auto", "onnxruntime"):
        raise ConfigError(
            f"precision int8 runs on runtime onnxruntime (static quantization), not {runtime}: "
            "set runtime onnxruntime (or auto), or precision fp32"
        )
    if device == "cuda":
        raise ConfigError(
            "precision int8 runs on the CPU: set device cpu (or auto), or precision fp32 or bf16"
        )
    resolve_device(device)  # a bad name still fails with its own message
    require("onnxruntime")
    return "onnxruntime", torch.device("cpu"), "int8"


def _fastest(device: torch.device, precision: str, installed) -> str:
    """What `auto` runs on: see `resolve_runtime`."""
    if device.type != "cpu":
        return "torch"
    if precision != "fp32" and _cpu_has_bf16():  # torch at bf16 (2.7x) beats ONNX Runtime (2.0x)
        return "openvino" if installed("openvino") else "torch"
    if precision == "bf16":
        return "torch"
    return next((name for name in ("onnxruntime", "openvino") if installed(name)), "torch")


def check_runs_here(runtime: str, precision: str) -> None:
    """Stop where this machine would not compute what the fingerprint says: OpenVINO quietly
    computes fp32 when asked for bf16 on a CPU without it. (Checked where the network opens,
    not where the vectors are named: a Ray driver may lack what its workers have.)"""
    if runtime == "openvino" and precision == "bf16" and not _cpu_has_bf16():
        raise ConfigError(
            "runtime openvino computes bf16 only on CPUs with AVX-512 BF16 or AMX, and this one has "
            "neither: choose precision fp32 (or auto), or runtime torch"
        )


def supports_bf16(device: torch.device) -> bool:
    """Native bf16 matmuls: Ampere+ GPUs, or CPUs with AVX-512 BF16 / AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return _cpu_has_bf16()


@functools.cache
def _cpu_has_bf16() -> bool:
    # Emulated bf16 on older CPUs is slower than fp32, so only the native flags count.
    try:
        with open("/proc/cpuinfo") as handle:
            flags = handle.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1


def autocast(device: torch.device, precision: str):
    """The autocast context for `precision` (a disabled one for fp32)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
