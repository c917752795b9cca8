"""Mean reversion: Bollinger position and RSI extremes, checked against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest

from trading_agents.alphas.mean_reversion import mean_reversion, rsi_extreme
from trading_core.marketdata.indicators import rsi

from .conftest import series_of_closes


def swings_then(move: float) -> list[float]:
    """30 closes swinging around 100, then five bars moving by ``move`` each."""
    closes = [100.0 + (0.5 if index % 2 else -0.5) for index in range(30)]
    for _ in range(5):
        closes.append(closes[-1] + move)
    return closes


def test_sharp_drop_is_oversold_and_scores_a_buy() -> None:
    score = mean_reversion(series_of_closes(swings_then(-2.5)))

    assert score is not None
    assert score > 0.5


def test_sharp_rise_is_overbought_and_scores_a_sell() -> None:
    score = mean_reversion(series_of_closes(swings_then(2.5)))

    assert score is not None
    assert score < -0.5


def test_score_matches_the_z_and_rsi_terms_by_hand() -> None:
    # A steady slide (two steps down, one smaller up): z about -1.6, RSI about 23.
    closes = [100.0]
    for index in range(40):
        closes.append(closes[-1] + (0.3 if index % 3 == 2 else -0.5))
    window = np.array(closes[-20:])
    z = (closes[-1] - window.mean()) / window.std()
    rsi_now = rsi(np.array(closes))[-1]
    assert -2 < z < -1  # the premises: neither term is clipped or zero
    assert 10 < rsi_now < 30

    expected = (-z / 2 + (30 - rsi_now) / 20) / 2

    assert mean_reversion(series_of_closes(closes)) == pytest.approx(expected)


def test_flat_prices_sit_on_their_mean() -> None:
    assert mean_reversion(series_of_closes([100.0] * 40)) == 0.0


def test_too_few_bars_give_no_view() -> None:
    assert mean_reversion(series_of_closes(swings_then(1.0)[:19])) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(50.0, 0.0), (30.0, 0.0), (70.0, 0.0), (20.0, 0.5), (10.0, 1.0), (0.0, 1.0), (80.0, -0.5)],
)
def test_rsi_term_counts_only_extremes(value: float, expected: float) -> None:
    assert rsi_extreme(value) == pytest.approx(expected)
