"""The machine a benchmark ran on, as one line for its results file: CPU model, the flags that
decide its speed (AVX-512, native bf16, AMX), cores, and the versions that matter."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def describe_machine() -> str:
    model, flags = platform.processor() or "unknown CPU", set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    have = [flag for flag in FLAGS if flag in flags] or ["none of " + "/".join(FLAGS)]
    return (f"machine: {model}; flags {' '.join(have)}; {os.cpu_count()} cores; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")  # fmt: skip
