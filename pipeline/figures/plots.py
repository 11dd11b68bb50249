"""Plot primitives shared by the analyses' figures, written as PNG files (matplotlib, no display)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator
from PIL import Image

from features.images.reading import read_image

from . import plt, save_figure

THUMBNAIL = (160, 160)
Thumbnails = Callable[[str], Image.Image]


def thumbnails(root: Path) -> Thumbnails:
    """Thumbnail by path relative to `root`, decoded once (an image recurs across galleries)."""

    @functools.cache
    def thumb(rel: str) -> Image.Image:
        image = read_image(root / rel)
        image.thumbnail(THUMBNAIL)
        return image

    return thumb


def plot_explained_variance(ratios, path: Path, marks: dict[str, int]) -> None:
    cumulative = ratios.cumsum()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    k = range(1, len(ratios) + 1)
    ax.plot(k, cumulative, color="tab:blue", label="cumulative")
    ax.bar(k, ratios, color="tab:orange", alpha=0.6, width=1.0, label="per component")
    for fraction, n in marks.items():
        ax.axvline(n, color="grey", linestyle=":", linewidth=0.8)
        ax.text(n, float(fraction), f" {float(fraction):.0%}: {n}", fontsize=8, va="bottom")
    ax.set(
        xscale="log",
        xlabel="components (train PCA)",
        ylabel="explained variance ratio",
        ylim=(0, 1.02),
        title="PCA of the embeddings: explained variance",
    )
    ax.legend(loc="center right")
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def plot_scatter(Z: np.ndarray, labels: np.ndarray, classes: list[str], path: Path, title: str) -> None:
    """2-D points coloured by class, class centroids labelled, legend outside the axes."""
    fig, ax = plt.subplots(figsize=(10, 7), dpi=110)
    cmap = plt.get_cmap("tab20", max(20, len(classes)))
    markers = ["o", "s", "^", "D"]
    for i, name in enumerate(classes):
        points = Z[labels == i]
        color, marker = cmap(i % cmap.N), markers[(i // 20) % len(markers)]
        ax.scatter(points[:, 0], points[:, 1], s=10, alpha=0.55, color=color, marker=marker, label=name)
        cx, cy = points.mean(axis=0)
        ax.scatter([cx], [cy], s=120, color=color, marker="X", edgecolor="black", linewidth=0.8)
        ax.annotate(name, (cx, cy), fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set(xlabel="PC 1", ylabel="PC 2", title=title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, markerscale=1.5, frameon=False)
    ax.grid(alpha=0.2)
    save_figure(fig, path)


def plot_line_grid(
    panels: dict[str, dict[str, dict]],
    path: Path,
    xlabel: str,
    ylabel: str,
    baseline: float | None = None,
    suptitle: str = "",
    names: list[str] | None = None,
    xscale: str = "linear",
) -> None:
    """A grid of small line plots: panel -> head -> {x: y}, one legend for all.

    Each of `names` keeps one colour in every panel and every figure drawn with the same
    `names`, even where some are missing.
    """
    n = len(panels)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    names = names or list(dict.fromkeys(name for series in panels.values() for name in series))
    colors = {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(names)}
    names = [name for name in names if any(name in series for series in panels.values())]
    size = (4.2 * cols, 3.3 * rows) if n > 1 else (7, 4.4)
    fig, axes = plt.subplots(rows, cols, figsize=size, dpi=110, squeeze=False)
    for ax, (panel, series) in zip(axes.flat, panels.items(), strict=False):
        for name, points in series.items():
            xs = sorted(points, key=float)
            ax.plot([float(x) for x in xs], [points[x] for x in xs], marker="o", markersize=3,
                    color=colors[name], label=name)  # fmt: skip
        if baseline is not None:
            ax.axhline(baseline, color="grey", linestyle="--", linewidth=1)
        ax.set(title=panel, xlabel=xlabel, ylabel=ylabel, ylim=(0, 1), xscale=xscale)
        if xscale == "linear":
            ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=colors[name], marker="o", markersize=3) for name in names]
    labels = list(names)
    if baseline is not None:
        handles.append(plt.Line2D([], [], color="grey", linestyle="--", linewidth=1))
        labels.append("chance")
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    if suptitle:
        fig.suptitle(suptitle)
    save_figure(fig, path, rect=(0, 0.06, 1, 1))


def plot_confusion(matrix: np.ndarray, classes: list[str], path: Path, title: str) -> None:
    """Row-normalised confusion matrix (rows: true class), values printed where non-zero while
    the cells are large enough to read (up to 40 classes)."""
    n = len(classes)
    size = max(6.0, 0.38 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9), dpi=110)
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), classes, rotation=90, fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    cells = zip(*np.nonzero(matrix >= 0.005), strict=True) if n <= 40 else ()
    for i, j in cells:
        color = "white" if matrix[i, j] > 0.6 else "black"
        ax.text(j, i, f"{matrix[i, j]:.2f}".lstrip("0"), ha="center", va="center", fontsize=6, color=color)
    fig.colorbar(image, ax=ax, fraction=0.04, label="fraction of the true class")
    save_figure(fig, path)


def plot_gallery(
    images: list, captions: list[str], path: Path, title: str, cols: int = 6, colors: list[str] | None = None
) -> None:
    """Thumbnails in a grid with a caption under each; an empty gallery says so."""
    rows = max(1, (len(images) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.1 * cols, 2.35 * rows + 0.5), dpi=100, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (image, caption) in enumerate(zip(images, captions, strict=True)):
        ax = axes.flat[i]
        ax.imshow(image)
        ax.set_title(caption, fontsize=7, color=(colors[i] if colors else "black"))
    if not images:
        axes.flat[0].text(0.5, 0.5, "nothing to show", ha="center", va="center")
    # The title a fixed distance from the top, with room left for it above the first row's
    # captions: fractions of the figure would put it among the rows of a tall gallery.
    height = fig.get_figheight()
    fig.suptitle(title, fontsize=11, y=1 - 0.12 / height, va="top")
    save_figure(fig, path, rect=(0, 0, 1, 1 - 0.5 / height))


def plot_bars(values: dict[str, float], path: Path, title: str, xlabel: str) -> None:
    names = sorted(values, key=values.get)
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(names) + 1.5), dpi=110)
    ax.barh(names, [values[n] for n in names], color="tab:blue", alpha=0.8)
    ax.set(xlim=(0, 1), xlabel=xlabel, title=title)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    save_figure(fig, path)
