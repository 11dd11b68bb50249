"""The learning-curve figure: test accuracy against labelled images per class, one line per head."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis.curves import CurvesResult
from ..analysis.forecast import curve_values
from . import plt, save_figure


def plot_curves(result: CurvesResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    colors = plt.get_cmap("tab10")
    ticks: dict[float, str] = {}
    top = 1 / result.n_classes
    for i, (head, points) in enumerate(result.heads.items()):
        if not points:
            continue
        # The whole split sits at its mean images per class.
        xs = [p.per_class or p.n_train / result.n_classes for p in points]
        ys = [p.accuracy for p in points]
        ticks |= {
            x: str(p.per_class) if p.per_class else f"all\n({x:.0f})" for x, p in zip(xs, points, strict=True)
        }
        top = max(top, *(max(p.ci[1], *p.draws) for p in points))
        color = colors(i % 10)
        ax.fill_between(xs, [p.ci[0] for p in points], [p.ci[1] for p in points], color=color, alpha=0.15)
        ax.plot(xs, ys, marker="o", color=color, label=head)
        for x, p in zip(xs, points, strict=True):
            ax.scatter([x] * len(p.draws), p.draws, s=6, color=color, alpha=0.4)
        budget = result.forecast.get(head)
        if budget is not None:  # the fitted curve through the points, on to its last forecast
            grid = np.geomspace(xs[0], max(v["labels_per_class"] for v in budget.at.values()), 100)
            ax.plot(grid, curve_values(budget, grid), color=color, linestyle=":", linewidth=1.2)
            for v in budget.at.values():
                x, y, (low, high) = v["labels_per_class"], v["accuracy"], v["interval"]
                ax.errorbar(
                    [x], [y], [[y - low], [high - y]], color=color, marker="D", markersize=4, capsize=2
                )
                ticks[x] = f"{x:.0f}\nforecast"
                top = max(top, high)
    ax.axhline(1 / result.n_classes, color="grey", linestyle="--", linewidth=1, label="chance")
    if result.forecast:  # what the dotted lines and diamonds are, once for every head
        ax.plot([], [], color="grey", linestyle=":", label="fitted curve (label budget)")
        ax.errorbar([], [], [], color="grey", marker="D", markersize=4, linestyle="none",
                    label="forecast, the draws' spread")  # fmt: skip
    level = round(result.level * 100)
    ax.set(
        xscale="log",
        xlabel="labelled train images per class (all: the whole train split)",
        ylabel="test accuracy",
        ylim=(0, min(1.0, top + 0.1)),
        title=f"Learning curves: mean of {result.draws} draws, {level}% bootstrap band, dots: each draw",
    )
    ax.set_xticks(list(ticks), list(ticks.values()))
    ax.minorticks_off()
    ax.title.set_fontsize(10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)  # below the curves, above chance: empty
    save_figure(fig, path)
