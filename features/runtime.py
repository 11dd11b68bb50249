"""Device and precision choices: what `auto` means on this machine."""

from __future__ import annotations

import functools
import os

import torch

from .constants import DEVICES, PRECISIONS
from .exceptions import ConfigError


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
