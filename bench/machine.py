"""The machine a benchmark ran on (CPU model, the flags that decide its speed, cores, versions), and
the results file that records a benchmark's output under that line."""

from __future__ import annotations

import os
import platform
import sys
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


RESULTS = Path(__file__).resolve().parent / "results"


class RecordedOutput:
    """Everything printed inside `with RecordedOutput(path):` also goes to `path`, which starts
    with the command line and the machine, so a results file always says where it came from."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __enter__(self) -> RecordedOutput:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = self.path.open("w")
        self.stdout, sys.stdout = sys.stdout, self
        print("python " + " ".join(sys.argv))
        print(describe_machine())
        return self

    def write(self, text: str) -> int:
        self.file.write(text)
        return self.stdout.write(text)

    def flush(self) -> None:
        self.file.flush()
        self.stdout.flush()

    def __exit__(self, *exc) -> None:
        sys.stdout = self.stdout
        self.file.close()
        print(f"written to {self.path}")
