"""The report's sections say what their results hold: here the learning curves and the label budget."""

from __future__ import annotations

import re

from pipeline.analysis.curves import CurvePoint, CurvesResult
from pipeline.analysis.forecast import power_law
from pipeline.report.sections import curves_section

SIZES = [1, 2, 5, 10, 20, None]


def _result() -> CurvesResult:
    """Two heads on a power law with a ceiling of 0.95; one with too few points for a forecast."""
    points = []
    for k in SIZES:
        n = k or 32.0
        acc = float(power_law(n, 0.95, 0.5, 0.9))
        points.append(
            CurvePoint(k, n * 10, acc, (acc - 0.02, acc + 0.02), [acc - 0.002, acc, acc + 0.002], 0.1)
        )
    short = [p for p in points if p.per_class in (10, None)]
    result = CurvesResult(200, 10, 3, 1000, 0.95, {"logreg": points, "knn": short}, [])
    result.add_label_budget([0.9, 0.99])
    return result


def _rows(html: str) -> list[list[str]]:
    return [
        re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", html) if "<td>" in row
    ]


def test_the_label_budget_table_shows_each_forecast_with_its_backtest(tmp_path):
    result = _result()
    html = curves_section(result, tmp_path / "curves.png")
    budget = [row for row in _rows(html) if row and row[0] == "logreg" and "power law" in " ".join(row)]
    assert len(budget) == 1
    head, curve, ceiling, now, at2, at5, for90, for99, backtest = budget[0]
    assert curve == "power law a - b n^-c" and float(ceiling) == 0.95 and now == "32"
    assert float(at2.split()[0]) == round(float(power_law(64, 0.95, 0.5, 0.9)), 3)
    assert for90 != "not reached" and for99 == "not reached"  # above the ceiling
    assert "fitted up to 16" in backtest
    assert "knn: no forecast (2 curve points; a forecast needs 4)" in html  # said, not left out


def test_without_forecasts_there_is_no_budget_table(tmp_path):
    result = _result()
    result.forecast, result.backtest = {}, {}
    assert "Label budget" not in curves_section(result, tmp_path / "curves.png")
