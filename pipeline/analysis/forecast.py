"""Label budget: a learning curve's fit, its forecast at 2x and 5x the labels, the labels per
class a target accuracy needs, and a backtest that says how far such forecasts can be trusted.

Two curves are fitted to test accuracy against labelled images per class (n), both saturating
power laws (the form learning curves take in Hestness et al. 2017 and Mukherjee et al. 2003):
a - b n^-c, whose ceiling a is below 1 where the classes overlap, and 1 - b n^-c, the error
alone falling as a power of n, with one parameter fewer. Each is fitted by least squares
weighted by its points' standard errors (from their bootstrap intervals), and the one with
the lower BIC is chosen and named. Tried and dropped on the shared subset: a line in log n (it
never saturates, and forecast 1.000 at 2x the labels), and unweighted fits chosen by AICc
(with six points AICc's penalty always picked 1 - b n^-c, which missed the curves' flat ends
and forecast 0.99 where every head had levelled off near 0.96).
The forecast's interval is the spread of the same curve fitted to each draw's points alone
(their min and max): what another draw of the same number of labels would have given, not the
test set's noise, which the curve points' own intervals show. The backtest fits on the points up
to half the labels, forecasts the points above, and reports the error: the one measure of how far
the forecast can go.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from .results import Result

FACTORS = (2.0, 5.0)  # forecasts at these multiples of the labels the train split has
MIN_POINTS = 4  # a 3-parameter curve on fewer points has nothing left to test it


def power_law(n, a, b, c):
    return a - b * np.power(n, -c)


def error_power_law(n, b, c):
    return 1.0 - b * np.power(n, -c)


CURVES = {
    "power law a - b n^-c": (power_law, [1.0, 1.0, 0.5], ([0.0, 0.0, 0.01], [1.0, 10.0, 3.0])),
    "error power law 1 - b n^-c": (error_power_law, [1.0, 0.5], ([0.0, 0.01], [10.0, 3.0])),
}


@dataclass
class Forecast(Result):
    curve: str  # the chosen form
    params: list[float]
    bic: dict[str, float]  # every form's BIC on the mean points (lower is better)
    labels_per_class: float  # what the train split has (its mean per class)
    at: dict[str, dict]  # "2x" -> {"labels_per_class", "accuracy", "interval"}
    targets: dict[str, dict]  # "0.95" -> {"labels_per_class" or None, "note"}
    ceiling: float  # the accuracy the curve tends to with unlimited labels of this kind


@dataclass
class Backtest(Result):
    fitted_up_to: float  # labels per class of the points fitted
    curve: str
    errors: list[dict] = field(default_factory=list)  # per forecast point: labels, forecast, measured, error
    mean_absolute_error: float | None = None
    note: str = ""


def fit_curve(x: np.ndarray, y: np.ndarray, sigma: np.ndarray, name: str) -> np.ndarray | None:
    """The curve `name` fitted to (x, y) by least squares weighted by each point's standard
    error `sigma`; None where it does not converge."""
    function, start, bounds = CURVES[name]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            params, _ = curve_fit(function, x, y, p0=start, bounds=bounds, sigma=sigma, absolute_sigma=True,
                                  maxfev=20_000)  # fmt: skip
    except (RuntimeError, ValueError):
        return None
    return params


def bic(x: np.ndarray, y: np.ndarray, sigma: np.ndarray, name: str, params: np.ndarray) -> float:
    """Bayesian information criterion of a weighted fit: chi-square plus k log n."""
    chi_square = float(np.sum(((CURVES[name][0](x, *params) - y) / sigma) ** 2))
    return chi_square + len(params) * np.log(len(x))


def choose_curve(x, y, sigma) -> tuple[str, np.ndarray, dict[str, float]] | None:
    fits = {name: fit_curve(x, y, sigma, name) for name in CURVES}
    scores = {name: bic(x, y, sigma, name, p) for name, p in fits.items() if p is not None}
    if not scores:
        return None
    best = min(scores, key=scores.get)
    return best, fits[best], scores


def curve_values(found: Forecast, n: np.ndarray) -> np.ndarray:
    """The chosen curve's accuracy at `n` labels per class."""
    return np.clip(CURVES[found.curve][0](n, *found.params), 0, 1)


def labels_for(name: str, params: np.ndarray, target: float) -> float | None:
    """Labels per class at which the curve reaches `target`; None where it never does."""
    a, b, c = ceiling(name, params), *params[-2:]
    return float((b / (a - target)) ** (1 / c)) if target < a else None


def ceiling(name: str, params) -> float:
    """The accuracy the curve tends to with unlimited labels of this kind."""
    return float(params[0]) if name.startswith("power law a") else 1.0


def forecast(
    x: np.ndarray,
    mean: np.ndarray,
    sigma: np.ndarray,
    draws: list[np.ndarray],
    current: float,
    targets: list[float],
) -> Forecast | str:
    """The chosen curve on the mean points (standard errors `sigma`), forecast at FACTORS x
    `current` labels per class, with the per-draw fits' spread; or why there is none."""
    if len(x) < MIN_POINTS:
        return f"{len(x)} curve points; a forecast needs {MIN_POINTS}"
    chosen = choose_curve(x, mean, sigma)
    if chosen is None:
        return "no curve could be fitted to these points"
    name, params, scores = chosen
    function = CURVES[name][0]
    per_draw = [p for p in (fit_curve(x, y, sigma, name) for y in draws) if p is not None]
    at = {}
    for factor in FACTORS:
        n = current * factor
        spread = [float(np.clip(function(n, *p), 0, 1)) for p in per_draw] or [np.nan]
        at[f"{factor:g}x"] = {
            "labels_per_class": n,
            "accuracy": float(np.clip(function(n, *params), 0, 1)),
            "interval": [min(spread), max(spread)],
        }
    reach = {}
    for target in targets:
        needed = labels_for(name, params, target)
        if needed is None:
            note = (f"not reached by this curve (its ceiling is {ceiling(name, params):.3f}): more labels "
                    "of this kind will not get there")  # fmt: skip
        elif needed <= current:
            note = f"reached already at the current labels (the curve: {needed:.0f} per class)"
        else:
            note = f"about {needed:.0f} labels per class ({needed / current:.1f}x the current)"
        reach[f"{target:g}"] = {"labels_per_class": needed, "note": note}
    return Forecast(
        name, [float(p) for p in params], scores, float(current), at, reach, ceiling(name, params)
    )


def backtest(x: np.ndarray, mean: np.ndarray, sigma: np.ndarray, current: float) -> Backtest:
    """Fit on the points up to half the current labels, forecast the points above."""
    half = current / 2
    early, late = x <= half, x > half
    if early.sum() < MIN_POINTS - 1 or not late.any():
        return Backtest(
            half, "", note=f"{int(early.sum())} points up to {half:.0f} labels per class: too few to fit on"
        )
    chosen = choose_curve(x[early], mean[early], sigma[early]) if early.sum() >= MIN_POINTS else None
    name = chosen[0] if chosen else "error power law 1 - b n^-c"  # 3 points: the 2-parameter curve
    params = chosen[1] if chosen else fit_curve(x[early], mean[early], sigma[early], name)
    if params is None:
        return Backtest(half, name, note="the curve did not converge on the early points")
    errors = [
        {"labels_per_class": float(n), "forecast": float(np.clip(CURVES[name][0](n, *params), 0, 1)),
         "measured": float(m)}
        for n, m in zip(x[late], mean[late], strict=True)
    ]  # fmt: skip
    for e in errors:
        e["error"] = e["forecast"] - e["measured"]
    mae = float(np.mean([abs(e["error"]) for e in errors]))
    return Backtest(half, name, errors, mae)
