"""Momentum: ADX-gated direction on series whose trend is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from trading_agents.alphas.momentum import directional_indicators, momentum, momentum_min_bars
from trading_core.marketdata.indicators import adx

from .conftest import random_walk, series_of_candles, series_of_closes


def trend(length: int, step: float) -> list[float]:
    """Closes moving by ``step`` (a fraction) every bar, with a pause every fourth bar."""
    closes, price = [], 100.0
    for index in range(length):
        price *= 1.0 if index % 4 == 3 else 1.0 + step
        closes.append(price)
    return closes


def test_up_trend_gives_positive_momentum() -> None:
    score = momentum(series_of_closes(trend(60, 0.01)))

    assert score is not None
    assert score > 0.5


def test_down_trend_gives_negative_momentum() -> None:
    score = momentum(series_of_closes(trend(60, -0.01)))

    assert score is not None
    assert score < -0.5


def test_flat_series_has_zero_momentum() -> None:
    assert momentum(series_of_candles([(100.0, 100.0, 100.0, 100.0)] * 60)) == 0.0


def test_choppy_market_below_the_adx_floor_scores_exactly_zero() -> None:
    noise = np.random.default_rng(3).normal(0.0, 0.3, 80)
    closes = (100.0 + np.where(np.arange(80) % 2, 1.0, -1.0) + noise).tolist()
    series = series_of_closes(closes, wick=0.003)
    assert adx(series.high, series.low, series.close)[-1] < 20  # the premise

    assert momentum(series) == 0.0


def test_bars_making_no_new_highs_or_lows_have_no_direction() -> None:
    # Every bar spans the same range: DM is 0 on both sides after the first bar, so ADX reads
    # 100 (DX is 100 whenever -DI is 0) though +DI has decayed to almost nothing.
    closes = [100.0 + (1.0 if index % 2 else -1.0) for index in range(80)]
    series = series_of_closes(closes)
    assert adx(series.high, series.low, series.close)[-1] > 90  # the premise

    score = momentum(series)

    assert score is not None
    assert abs(score) < 0.05


def test_needs_twice_the_period_in_bars() -> None:
    closes = trend(60, 0.01)
    needed = momentum_min_bars(14)

    assert needed == 28
    assert momentum(series_of_closes(closes[: needed - 1])) is None
    assert momentum(series_of_closes(closes[:needed])) is not None


def test_adx_matches_the_indicators_module() -> None:
    series = series_of_closes(random_walk(120, seed=7), wick=0.004)

    computed, plus_di, minus_di = directional_indicators(series)

    expected = adx(series.high, series.low, series.close)
    np.testing.assert_allclose(computed, expected, rtol=1e-12, equal_nan=True)
    assert np.all((plus_di[14:] >= 0) & (minus_di[14:] >= 0))


@pytest.mark.parametrize("seed", range(5))
def test_score_stays_in_range_on_random_walks(seed: int) -> None:
    score = momentum(series_of_closes(random_walk(100, seed=seed, volatility=0.03)))

    assert score is not None
    assert -1.0 <= score <= 1.0
