"""The comparison figure: accuracy and macro F1 per head with their paired bootstrap intervals."""

from __future__ import annotations

from pathlib import Path

from ..analysis.compare import Comparison
from . import plt


def plot_comparison(result: Comparison, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ranked = result.ranked()[::-1]  # best at the top of a horizontal bar chart
    heads = [h for h, _ in ranked]
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.5 * len(heads) + 1.8), dpi=110, sharey=True)
    for ax, key, title in [
        (axes[0], "test_accuracy", "test accuracy"),
        (axes[1], "test_macro_f1", "macro F1"),
    ]:
        values = [getattr(r, key) for _, r in ranked]
        intervals = [getattr(r, f"{key}_ci") for _, r in ranked]
        low = [v - lo for v, (lo, _) in zip(values, intervals, strict=True)]
        high = [hi - v for v, (_, hi) in zip(values, intervals, strict=True)]
        ax.barh(heads, values, xerr=[low, high], color="tab:blue", alpha=0.8, capsize=4)
        for y, v in enumerate(values):
            ax.text(0.01, y, f"{v:.3f}", va="center", color="white", fontsize=9)
        ax.set(xlim=(0, 1), title=f"{title} ({round(result.level * 100)}% paired bootstrap CI)")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
