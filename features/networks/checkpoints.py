"""Weights from files: a local checkpoint loaded into a cut network, and the digest of a
network's state that names hub weights in the fingerprint."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from ..exceptions import ConfigError
from ..hashing.digest import sha256_file


def state_digest(model: nn.Module) -> str:
    """SHA-256 over a network's state (names and bytes, in name order): the weights' identity
    where no file names them (a hub download, whose local copy may be stored anywhere)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def load_checkpoint(model: nn.Module, path: Path, cut: tuple[str, ...] = ()) -> str:
    """Load the state dict in `path` into `model` (wrapped in {"state_dict": ...} or {"model": ...},
    `module.` prefixes allowed); keys under the `cut` prefixes (the classifier that was cut off,
    of any number of classes) are ignored. Returns the weights' identity, the file's hash."""
    if not path.is_file():
        raise ConfigError(f"weights: checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for non-checkpoint files
        raise ConfigError(f"weights: cannot load checkpoint {str(path)!r}: {exc}") from exc
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise ConfigError(f"weights: {str(path)!r} holds a {type(state).__name__}, not a state dict")
    state = {key.removeprefix("module."): value for key, value in state.items()}
    state = {key: value for key, value in state.items() if not key.startswith(cut)}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise ConfigError(
            f"weights: checkpoint {str(path)!r} does not fit the architecture: "
            f"{str(exc).splitlines()[1].strip()}"
        ) from exc
    missing = [key for key in missing if not key.startswith(cut)]
    if missing or unexpected:
        raise ConfigError(
            f"weights: checkpoint {str(path)!r} does not fit the architecture: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    return f"checkpoint(sha256={sha256_file(path)})"
