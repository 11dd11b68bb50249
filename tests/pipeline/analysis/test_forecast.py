"""The label budget: curves recovered from their own points, forecasts, targets and backtests."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.analysis.forecast import backtest, choose_curve, forecast, labels_for, power_law

X = np.array([1.0, 2.0, 5.0, 10.0, 20.0, 32.0])
SIGMA = np.full(len(X), 0.01)


def test_a_power_law_is_recovered_and_forecast():
    truth = power_law(X, 0.97, 0.5, 0.8)
    draws = [truth + d for d in (-0.004, 0.0, 0.004)]
    found = forecast(X, truth, SIGMA, draws, 32.0, [0.9, 0.96, 0.99])
    assert found.curve.startswith("power law")
    assert found.params == pytest.approx([0.97, 0.5, 0.8], abs=1e-3)
    at2 = found.at["2x"]
    assert at2["labels_per_class"] == 64 and at2["accuracy"] == pytest.approx(
        power_law(64, 0.97, 0.5, 0.8), abs=1e-4
    )
    low, high = at2["interval"]
    assert low < at2["accuracy"] < high  # the draws sit either side of the mean
    assert "reached already" in found.targets["0.9"]["note"]
    needed = found.targets["0.96"]["labels_per_class"]
    assert power_law(needed, 0.97, 0.5, 0.8) == pytest.approx(0.96, abs=1e-3) and needed > 32
    assert found.targets["0.99"]["labels_per_class"] is None
    assert "not reached by this curve (its ceiling is 0.970)" in found.targets["0.99"]["note"]


def test_the_simpler_curve_is_chosen_where_the_error_falls_to_zero():
    y = 1.0 - 0.4 * X**-0.6 + np.array([0.001, -0.001, 0.001, -0.001, 0.001, -0.001])
    name, params, scores = choose_curve(X, y, SIGMA)
    assert name.startswith("error power law")
    assert scores[name] < min(v for k, v in scores.items() if k != name)
    assert labels_for(name, params, 0.98) == pytest.approx((0.4 / 0.02) ** (1 / 0.6), rel=0.1)


def test_the_backtest_fits_the_early_points_and_scores_the_late_ones():
    truth = power_law(X, 0.95, 0.6, 0.7)
    precise = SIGMA / 10  # points this sure tell the ceiling from the simpler curve
    test = backtest(X, truth, precise, 32.0)
    assert test.fitted_up_to == 16 and [e["labels_per_class"] for e in test.errors] == [20.0, 32.0]
    assert test.mean_absolute_error < 1e-3
    # a curve that turns after the half: the backtest shows the forecast's error
    bent = truth.copy()
    bent[-2:] -= 0.05
    assert backtest(X, bent, precise, 32.0).mean_absolute_error == pytest.approx(0.05, abs=0.01)


def test_too_few_points_say_so():
    assert (
        forecast(X[:3], X[:3] / 40, SIGMA[:3], [X[:3] / 40], 5.0, [0.9])
        == "3 curve points; a forecast needs 4"
    )
    assert "too few to fit on" in backtest(X[[0, 4, 5]], np.array([0.5, 0.8, 0.9]), SIGMA[:3], 32.0).note
