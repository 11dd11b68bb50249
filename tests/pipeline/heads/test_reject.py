"""The reject option's scores and thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.exceptions import PipelineError
from pipeline.heads.reject import RejectCalibration, max_probability, nearest_similarity, require


def test_the_threshold_accepts_the_share_asked_for(tmp_path):
    rng = np.random.default_rng(0)
    scores = rng.uniform(size=2000)
    calibration = RejectCalibration.of({"max_probability": scores})
    for accept in (0.5, 0.9, 0.95, 0.99):
        assert np.mean(scores >= calibration.threshold(accept)) == pytest.approx(accept, abs=0.002)
    calibration.write(tmp_path)
    assert RejectCalibration.read(tmp_path).threshold(0.95) == calibration.threshold(0.95)


def test_bad_requests_say_why(tmp_path):
    calibration = RejectCalibration.of({"max_probability": np.linspace(0, 1, 50)})
    with pytest.raises(PipelineError, match="no 'nearest_train' thresholds.*heads on embeddings"):
        calibration.threshold(0.95, "nearest_train")
    with pytest.raises(PipelineError, match=r"share to accept must be in \(0, 1\], got 1.5"):
        calibration.threshold(1.5)
    with pytest.raises(PipelineError, match="records no reject thresholds.*validation split"):
        require(tmp_path)
    with pytest.raises(PipelineError, match="needs validation images"):
        RejectCalibration.of({"max_probability": np.array([])})


def test_the_scores():
    assert max_probability(np.array([[0.2, 0.8], [0.6, 0.4]])).tolist() == [0.8, 0.6]
    rng = np.random.default_rng(1)
    train, queries = rng.normal(size=(300, 8)), rng.normal(size=(5000, 8))  # more than one block
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    expected = (unit(queries) @ unit(train).T).max(axis=1)
    np.testing.assert_allclose(nearest_similarity(queries, train), expected, atol=1e-5)
    assert nearest_similarity(train[:3], train) == pytest.approx(1.0, abs=1e-6)


def test_a_score_that_ties_cannot_reject_and_says_so():
    """A 1-NN head gives every image probability 1.0: no threshold accepts 95%; it names what works."""
    ties = RejectCalibration.of({"max_probability": np.r_[np.full(98, 1.0), 0.5, 0.6]})
    with pytest.raises(
        PipelineError, match=r"1 or more on 98% .* no threshold on it accepts 95%.*nearest_train"
    ):
        ties.threshold(0.95)
    assert ties.threshold(0.99) == pytest.approx(0.6, abs=0.01)  # 99% asked: below the tie, it can
