"""Plots written as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_lr_find(result: dict, path: Path) -> None:
    """Loss against learning rate from the range test, with the suggested max_lr marked."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    ax.plot(result["lrs"], result["losses"], color="tab:blue")
    ax.axvline(
        result["suggested"],
        color="tab:red",
        linestyle="--",
        label=f"suggested max_lr = {result['suggested']:.2g}",
    )
    ax.set(
        xscale="log",
        xlabel="learning rate",
        ylabel="training loss (smoothed)",
        title="Learning-rate range test",
    )
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_comparison(table: dict, level: float, path: Path) -> None:
    """Test accuracy and macro F1 per head with their bootstrap intervals."""
    path.parent.mkdir(parents=True, exist_ok=True)
    heads = sorted(table, key=lambda h: table[h]["test_accuracy"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.5 * len(heads) + 1.8), dpi=110, sharey=True)
    for ax, key, title in [
        (axes[0], "test_accuracy", "test accuracy"),
        (axes[1], "test_macro_f1", "macro F1"),
    ]:
        values = [table[h][key] for h in heads]
        low = [table[h][key] - table[h][f"{key}_ci"][0] for h in heads]
        high = [table[h][f"{key}_ci"][1] - table[h][key] for h in heads]
        ax.barh(heads, values, xerr=[low, high], color="tab:blue", alpha=0.8, capsize=4)
        for y, v in enumerate(values):
            ax.text(0.01, y, f"{v:.3f}", va="center", color="white", fontsize=9)
        ax.set(xlim=(0, 1), title=f"{title} ({round(level * 100)}% paired bootstrap CI)")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
