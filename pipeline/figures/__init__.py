"""The figures of each stage, drawn from its typed results; `plots` holds the shared primitives."""

import matplotlib

matplotlib.use("Agg")  # PNG files only: stages run headless
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig, path, rect=None) -> None:
    """Lay out, write the PNG and free the figure (pyplot keeps every open one alive)."""
    fig.tight_layout(rect=rect)
    fig.savefig(path)
    plt.close(fig)
