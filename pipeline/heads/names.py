"""The heads `heads.enabled` may name, and that list checked (no head code imported)."""

from __future__ import annotations

from ..exceptions import ParamsError

# Each is a class in pipeline/heads/<name>.py.
HEAD_NAMES = ("mlp", "glmnet", "finetune", "knn", "logreg")


def enabled_heads(heads_block: dict) -> list[str]:
    """`heads.enabled`, checked: known names, each once, at least one."""
    enabled = heads_block.get("enabled")
    if not isinstance(enabled, list) or not enabled or not all(isinstance(h, str) for h in enabled):
        raise ParamsError(
            f"heads.enabled: got {enabled!r}; give a list of head names from {sorted(HEAD_NAMES)}"
        )
    unknown = [name for name in enabled if name not in HEAD_NAMES]
    if unknown:
        raise ParamsError(f"heads: got {unknown[0]!r}; choose from {sorted(HEAD_NAMES)}")
    if len(set(enabled)) != len(enabled):
        raise ParamsError(f"heads.enabled: got {enabled}; list each head once")
    return enabled
