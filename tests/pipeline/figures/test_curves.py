"""The learning-curve figure: a line per head at its labels per class, chance, and the forecasts."""

from __future__ import annotations

from pipeline.figures.curves import plot_curves
from tests.pipeline.report.test_sections import SIZES, _result


def test_each_head_is_a_line_through_its_points_with_its_forecasts(tmp_path, drawn):
    result = _result()
    plot_curves(result, tmp_path / "curves.png")
    (ax,) = drawn[0].axes
    lines = {line.get_label(): line for line in ax.lines}
    logreg, knn = lines["logreg"], lines["knn"]
    assert list(logreg.get_ydata()) == [p.accuracy for p in result.heads["logreg"]]
    assert list(logreg.get_xdata()) == [k or 32.0 for k in SIZES]  # the whole split at its mean per class
    assert list(knn.get_xdata()) == [10, 32.0]
    assert list(lines["chance"].get_ydata()) == [0.1, 0.1]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "test accuracy"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert "all\n(32)" in ticks
    forecasts = [x for x, label in zip(ax.get_xticks(), ticks, strict=True) if label.endswith("forecast")]
    at = result.forecast["logreg"].at.values()
    assert sorted(forecasts) == sorted(v["labels_per_class"] for v in at)  # logreg's; knn has too few points
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["logreg", "knn", "chance", "fitted curve (label budget)", "forecast, the draws' spread"]
