"""The comparison figures: scores per head with intervals, pairwise differences, reliability diagrams."""

from __future__ import annotations

from pathlib import Path

from ..analysis.compare import Comparison
from . import plt, save_figure


def plot_comparison(result: Comparison, path: Path) -> None:
    ranked = result.ranked()[::-1]  # best at the top of a horizontal bar chart
    heads = [h for h, _ in ranked]
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.5 * len(heads) + 1.8), dpi=110, sharey=True)
    for ax, key, title in [
        (axes[0], "test_accuracy", "test accuracy"),
        (axes[1], "test_macro_f1", "macro F1"),
    ]:
        values = [getattr(r, key) for _, r in ranked]
        intervals = [getattr(r, f"{key}_ci") for _, r in ranked]
        ax.barh(heads, values, color="tab:blue", alpha=0.8)
        # Drawn from its bounds, not as errors about the bar: a percentile interval of a biased
        # statistic may leave out its point estimate, and that should show, not crash the plot.
        for y, (lo, hi) in enumerate(intervals):
            ax.plot([lo, hi], [y, y], color="black", linewidth=1.2, marker="|", markersize=10)
        for y, v in enumerate(values):
            ax.text(0.01, y, f"{v:.3f}", va="center", color="white", fontsize=9)
        ax.set(xlim=(0, 1), title=f"{title} ({round(result.level * 100)}% paired bootstrap CI)")
        ax.grid(axis="x", alpha=0.3)
    save_figure(fig, path)


def plot_pairs(result: Comparison, path: Path) -> None:
    """Forest plot: each pair's accuracy difference with its interval, winners in colour."""
    pairs = result.pairs[::-1]  # the table's first pair at the top
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(pairs) + 1.6), dpi=110)
    for y, p in enumerate(pairs):
        lo, hi = p.difference_ci
        color = "tab:green" if p.winner else "grey"
        ax.plot([lo, hi], [y, y], color=color, linewidth=2)
        ax.plot([p.accuracy_difference], [y], "o", color=color)
        ax.text(max(hi, 0) + 0.005, y, f"Holm p {p.p_holm:.2g}", va="center", fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(pairs)), [f"{p.a} - {p.b}" for p in pairs])
    level = round(result.level * 100)
    ax.set(
        xlabel=f"accuracy difference, {level}% paired bootstrap interval",
        title="Pairwise differences (green: a winner by both interval and Holm-adjusted McNemar)",
    )
    ax.title.set_fontsize(10)
    ax.margins(x=0.25)
    ax.grid(axis="x", alpha=0.3)
    save_figure(fig, path)


def plot_reliability(result: Comparison, path: Path) -> None:
    """Reliability diagram per head: accuracy per confidence bin beside the bin's mean confidence.

    A calibrated head's bars reach its red marks on the diagonal; the ECE (in the title) is
    the gap between them, weighted by the images in each bin.
    """
    heads = [h for h, _ in result.ranked()]
    cols = min(3, len(heads))
    rows = -(-len(heads) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.6 * rows), dpi=110, squeeze=False)
    for ax in axes.flat[len(heads) :]:
        ax.set_visible(False)
    for ax, head in zip(axes.flat, heads, strict=False):
        scores = result.heads[head]
        bins = [b for b in scores.reliability if b.n]
        width = scores.reliability[0].high - scores.reliability[0].low
        ax.bar([b.low for b in bins], [b.accuracy for b in bins], width=width, align="edge",
               color="tab:blue", alpha=0.75, edgecolor="white", label="accuracy")  # fmt: skip
        ax.plot([b.low + width / 2 for b in bins], [b.confidence for b in bins], "_", color="tab:red",
                markersize=12, markeredgewidth=2, label="mean confidence")  # fmt: skip
        ax.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=0.8)
        for b in bins:
            ax.text(b.low + width / 2, 0.02, str(b.n), ha="center", fontsize=6, rotation=90)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy",
               title=f"{head}: ECE {scores.test_ece:.3f}")  # fmt: skip
        ax.grid(alpha=0.3)
    axes.flat[0].legend(loc="upper left", fontsize=7)
    fig.suptitle(f"Reliability on the {result.n_test} test images (bar labels: images per bin)", fontsize=10)
    save_figure(fig, path)
