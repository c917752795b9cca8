"""The ML-confidence and sentiment slots: they relay a value when given one, never invent it."""

from __future__ import annotations

import math

import pytest

from trading_agents.alphas.ml_confidence import ML_PROBABILITY_KEY, ml_confidence
from trading_agents.alphas.sentiment import SENTIMENT_KEY, sentiment


@pytest.mark.parametrize(
    ("probability", "score"), [(0.5, 0.0), (0.8, 0.6), (0.0, -1.0), (1.0, 1.0)]
)
def test_ml_probability_maps_to_two_p_minus_one(probability: float, score: float) -> None:
    assert ml_confidence({ML_PROBABILITY_KEY: probability}) == pytest.approx(score)


@pytest.mark.parametrize(
    "indicators", [{}, {ML_PROBABILITY_KEY: None}, {ML_PROBABILITY_KEY: math.nan}]
)
def test_without_a_probability_there_is_no_view(indicators: dict[str, float | None]) -> None:
    assert ml_confidence(indicators) is None


def test_a_probability_outside_zero_one_is_a_model_bug() -> None:
    with pytest.raises(ValueError, match="probability"):
        ml_confidence({ML_PROBABILITY_KEY: 1.2})


def test_sentiment_is_relayed_as_given() -> None:
    assert sentiment({SENTIMENT_KEY: -0.35}) == -0.35
    assert sentiment({"rsi_14": 40.0}) is None
    assert sentiment({SENTIMENT_KEY: math.nan}) is None
    with pytest.raises(ValueError, match="sentiment"):
        sentiment({SENTIMENT_KEY: 2.0})
