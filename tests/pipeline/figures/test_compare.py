"""The comparison figures show each head's scores and intervals, best first, and every pair's verdict."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgba
from PIL import Image

from pipeline.analysis.compare import Comparison, HeadScores, Pair
from pipeline.figures.compare import plot_comparison, plot_pairs


def _scores(accuracy: float, f1_interval: tuple[float, float]) -> HeadScores:
    accuracy_interval = (accuracy - 0.02, accuracy + 0.02)
    return HeadScores(accuracy, accuracy_interval, 0.5, f1_interval, 1.0, 0.1, 1.0, 0.1, 1, [], {})


def _interval_lines(ax) -> list[tuple[float, float]]:
    return [tuple(line.get_xdata()) for line in ax.lines]


def test_each_head_has_its_bar_and_interval_best_at_the_top(tmp_path, drawn):
    heads = {"knn": _scores(0.7, (0.45, 0.55)), "mlp": _scores(0.8, (0.40, 0.45))}
    plot_comparison(Comparison(100, 200, 0.95, heads, []), tmp_path / "compare.png")
    assert Image.open(tmp_path / "compare.png").size[0] > 0
    accuracy, f1 = drawn[0].axes
    assert [t.get_text() for t in accuracy.get_yticklabels()] == ["knn", "mlp"]  # the best drawn last: top
    assert [bar.get_width() for bar in accuracy.patches] == [0.7, 0.8]
    assert np.allclose(_interval_lines(accuracy), [(0.68, 0.72), (0.78, 0.82)])
    # A percentile interval of a biased statistic can lie wholly below its point: drawn as it is.
    assert _interval_lines(f1) == [(0.45, 0.55), (0.40, 0.45)]
    assert accuracy.get_xlim() == (0, 1) and "95% paired bootstrap CI" in accuracy.get_title()
    assert [t.get_text() for t in accuracy.texts] == ["0.700", "0.800"]


def test_each_pair_shows_its_difference_and_only_a_winner_is_coloured(tmp_path, drawn):
    pairs = [
        Pair("mlp", "knn", 0.1, (0.05, 0.15), 12, 2, 0.01, 0.02, "mlp"),
        Pair("mlp", "logreg", 0.01, (-0.02, 0.04), 5, 4, 0.9, 1.0, None),
    ]
    plot_pairs(Comparison(100, 200, 0.95, {}, pairs), tmp_path / "pairs.png")
    (ax,) = drawn[0].axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["mlp - logreg", "mlp - knn"]  # the first on top
    intervals, points = ax.lines[0:4:2], ax.lines[1:4:2]
    assert [tuple(line.get_xdata()) for line in intervals] == [(-0.02, 0.04), (0.05, 0.15)]
    assert [line.get_xdata()[0] for line in points] == [0.01, 0.1]
    colours = [to_rgba(line.get_color()) for line in intervals]
    assert colours == [to_rgba("grey"), to_rgba("tab:green")]
    assert [t.get_text() for t in ax.texts] == ["Holm p 1", "Holm p 0.02"]
    assert np.isclose(ax.lines[4].get_xdata()[0], 0)  # the line of no difference
