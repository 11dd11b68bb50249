"""The comparison figure draws intervals from their bounds, even one that leaves out its point."""

from __future__ import annotations

from PIL import Image

from pipeline.analysis.compare import Comparison, HeadScores
from pipeline.figures.compare import plot_comparison


def _scores(accuracy: float, f1_interval: tuple[float, float]) -> HeadScores:
    accuracy_interval = (accuracy - 0.02, accuracy + 0.02)
    return HeadScores(accuracy, accuracy_interval, 0.5, f1_interval, 1.0, 0.1, 1.0, 0.1, 1, [], {})


def test_an_interval_that_leaves_out_its_point_is_drawn(tmp_path):
    # A percentile interval of a biased statistic can lie wholly below the point estimate.
    heads = {"mlp": _scores(0.8, (0.40, 0.45)), "knn": _scores(0.7, (0.45, 0.55))}
    plot_comparison(Comparison(100, 200, 0.95, heads, []), tmp_path / "compare.png")
    assert Image.open(tmp_path / "compare.png").size[0] > 0
