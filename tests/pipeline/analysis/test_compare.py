"""The pairwise verdict: a winner only where Holm-adjusted McNemar and the paired interval agree."""

from __future__ import annotations

import numpy as np

from pipeline.analysis.compare import compare_heads, render_markdown
from pipeline.analysis.metrics import reliability_bins
from pipeline.artifacts.predictions import TestPredictions


def _heads(true: np.ndarray, rights: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """Predictions and evaluate-style metrics for heads right exactly on the rows given."""
    n = len(true)
    predictions, metrics = {}, {}
    for head, right in rights.items():
        predicted = np.where(right, true, (true + 1) % 4)
        proba = np.full((n, 4), 0.1)
        proba[np.arange(n), predicted] = 0.7
        names = np.array(list("abcd"))
        predictions[head] = TestPredictions(
            [str(i) for i in range(n)], names[true], names[predicted], proba.max(1)
        )
        metrics[head] = {
            "test": {
                "accuracy": right.mean(),
                "macro_f1": 0.0,
                "log_loss": 1.0,
                "ece": 0.1,
                "reliability": reliability_bins(true, proba, 10),
            },  # fmt: skip
            "fit_seconds": 1.0,
            "predict_ms_per_image": 0.1,
            "model_bytes": 1,
        }
    return predictions, metrics


def test_a_clear_gap_has_a_winner_and_equal_heads_have_none():
    rng = np.random.default_rng(0)
    poor = rng.random(600) < 0.5
    also_poor = poor.copy()
    also_poor[:10] = ~also_poor[:10]  # differs from poor on 10 of 600 rows
    rights = {"good": rng.random(600) < 0.9, "poor": poor, "also_poor": also_poor}
    predictions, metrics = _heads(rng.integers(0, 4, 600), rights)
    result = compare_heads(predictions, metrics, resamples=500, level=0.95, seed=0)
    verdicts = {(p.a, p.b): p for p in result.pairs}
    assert [p.a for p in result.pairs[:2]] == ["good", "good"]  # the better-ranked head first
    assert verdicts["good", "poor"].winner == "good"
    assert verdicts["good", "poor"].difference_ci[0] > 0
    tie = next(p for p in result.pairs if {p.a, p.b} == {"poor", "also_poor"})
    assert tie.winner is None and tie.p_holm >= tie.p_value
    text = render_markdown(result)
    assert "good over poor" in text and "not distinguishable" in text


def test_holm_can_withhold_a_winner_a_single_test_would_name():
    # Ten heads of the same quality and one slightly better: 55 pairs, so adjusted p-values grow.
    rng = np.random.default_rng(1)
    rights = {f"h{i}": rng.random(300) < 0.6 for i in range(10)} | {"x": rng.random(300) < 0.68}
    predictions, metrics = _heads(rng.integers(0, 4, 300), rights)
    result = compare_heads(predictions, metrics, resamples=200, level=0.95, seed=0)
    raw_only = [p for p in result.pairs if p.p_value < 0.05 <= p.p_holm]
    assert raw_only, "some pair should be significant only before adjustment"
    assert all(p.winner is None for p in raw_only)
    assert all("not distinguishable" in p.verdict(0.95) for p in raw_only)


def test_a_head_fitted_on_capped_rows_says_so_beside_its_choices():
    from pipeline.analysis.compare import _capped

    assert _capped({"fitted": 5000, "of": 60000}) == "5000 of 60000"
    assert _capped({"fitted": 710, "of": 710}) == _capped(None) == _capped({"fitted": None, "of": None}) == ""


def test_a_search_candidate_that_failed_is_shown_in_the_table():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, 200)
    predictions, metrics = _heads(true, {"knn": rng.random(200) < 0.8, "logreg": rng.random(200) < 0.8})
    metrics["knn"] |= {
        "chosen": {"n_neighbors": 5},
        "candidates": 2,
        "failed_candidates": ["{'n_neighbors': 1000}: n_neighbors = 1000 is more than the 710 train rows"],
    }
    result = compare_heads(predictions, metrics, 200, 0.95, 0)
    row = next(line for line in render_markdown(result).splitlines() if line.startswith("| knn"))
    assert "n_neighbors=5; 1 of 2 candidates failed: {'n_neighbors': 1000}: n_neighbors = 1000 is more" in row
    assert "failed" not in next(
        line for line in render_markdown(result).splitlines() if line.startswith("| logreg")
    )
    assert type(result).from_json(result.to_json()).heads["knn"].failed == metrics["knn"]["failed_candidates"]
