"""Figures of head training: the learning-rate range test."""

from __future__ import annotations

from pathlib import Path

from . import plt, save_figure


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
    save_figure(fig, path)
