"""Calibration and scores in numpy agree with scikit-learn's (a test-only dependency)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from trading_core.ml import calibration, evaluation


@pytest.fixture
def forecasts() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    raw = np.round(rng.uniform(0.05, 0.95, 2000), 2)  # rounded: ties, as tree models give
    outcome = (rng.uniform(size=2000) < raw**1.7).astype(float)
    return raw, outcome


def test_isotonic_matches_scikit_learn(forecasts: tuple[np.ndarray, np.ndarray]) -> None:
    raw, outcome = forecasts
    ours = calibration.fit("isotonic", raw, outcome)
    theirs = IsotonicRegression(out_of_bounds="clip").fit(raw, outcome)
    grid = np.linspace(0, 1, 501)
    np.testing.assert_allclose(ours.apply(grid), theirs.predict(grid), atol=1e-12)
    assert ours.apply_one(0.37) == pytest.approx(float(theirs.predict([0.37])[0]))


def test_platt_matches_an_unpenalised_logistic_regression(
    forecasts: tuple[np.ndarray, np.ndarray],
) -> None:
    raw, outcome = forecasts
    ours = calibration.fit("platt", raw, outcome)
    logit = np.log(raw / (1 - raw)).reshape(-1, 1)
    theirs = LogisticRegression(C=np.inf, tol=1e-12, max_iter=1000).fit(logit, outcome)
    assert ours.params["a"] == pytest.approx(theirs.coef_[0][0], rel=1e-5)
    assert ours.params["b"] == pytest.approx(theirs.intercept_[0], rel=1e-5, abs=1e-7)
    assert ours.apply_one(0.6) == pytest.approx(float(ours.apply([0.6])[0]))


def test_scores_match_scikit_learn(forecasts: tuple[np.ndarray, np.ndarray]) -> None:
    raw, outcome = forecasts
    assert evaluation.auc(outcome, raw) == pytest.approx(roc_auc_score(outcome, raw))
    assert evaluation.log_loss(outcome, raw) == pytest.approx(log_loss(outcome, raw))
    assert evaluation.brier(outcome, raw) == pytest.approx(brier_score_loss(outcome, raw))


def test_calibration_error_is_zero_when_hit_rates_match_and_large_when_not() -> None:
    outcome = np.array([1, 0, 1, 0, 1, 1, 1, 1, 1, 0], dtype=float)
    assert evaluation.expected_calibration_error(outcome, np.full(10, 0.7)) == pytest.approx(0.0)
    # Claims 0.95 where it is right 70% of the time: ECE 0.25.
    assert evaluation.expected_calibration_error(outcome, np.full(10, 0.95)) == pytest.approx(0.25)
