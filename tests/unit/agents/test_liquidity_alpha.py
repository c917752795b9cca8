"""Liquidity: volume against its average, spread (quoted or the bar-range proxy), money flow."""

from __future__ import annotations

import pytest

from trading_agents.alphas.liquidity import liquidity, money_flow, volume_ratio
from trading_agents.series import BarSeries

from .conftest import Candle, series_of_candles

USUAL: Candle = (100.0, 101.0, 99.0, 100.0)


def market(last: Candle = USUAL, last_volume: float = 100.0, volume: float = 100.0) -> BarSeries:
    """20 usual bars of ``volume`` each, then ``last`` with ``last_volume``."""
    candles = [USUAL] * 20 + [last]
    return series_of_candles(candles, [volume] * 20 + [last_volume])


def test_double_volume_at_the_usual_range_scores_half() -> None:
    # volume term log2(2) = 1, spread term -log2(1) = 0
    assert liquidity(market(last_volume=200.0)) == pytest.approx(0.5)


def test_half_volume_and_double_range_is_thin() -> None:
    thin = liquidity(market(last=(100.0, 102.0, 98.0, 100.0), last_volume=50.0))

    assert thin == pytest.approx(-1.0)


def test_quoted_spread_replaces_the_range_proxy() -> None:
    tight = liquidity(market(last=(100.0, 110.0, 90.0, 100.0)), quoted_spread=0.0)
    wide = liquidity(market(), quoted_spread=0.004)

    assert tight == pytest.approx(0.5)  # volume term 0, quoted spread term +1
    assert wide == pytest.approx(-0.5)  # volume term 0, quoted spread term -1


def test_without_recorded_volume_only_the_spread_speaks() -> None:
    series = market(last=(100.0, 100.5, 99.5, 100.0), last_volume=0.0, volume=0.0)

    assert volume_ratio(series) is None
    assert liquidity(series) == pytest.approx(1.0)  # half the usual range: tight


def test_too_few_bars_give_no_view() -> None:
    assert liquidity(series_of_candles([USUAL] * 20)) is None


def test_money_flow_follows_where_bars_close_in_their_range() -> None:
    at_high = series_of_candles([(100.0, 101.0, 99.0, 101.0)] * 20)
    at_low = series_of_candles([(100.0, 101.0, 99.0, 99.0)] * 20)
    mixed = series_of_candles(
        [(100.0, 101.0, 99.0, 101.0)] * 10 + [(100.0, 101.0, 99.0, 99.0)] * 10,
        [300.0] * 10 + [100.0] * 10,
    )

    assert money_flow(at_high) == pytest.approx(1.0)
    assert money_flow(at_low) == pytest.approx(-1.0)
    assert money_flow(mixed) == pytest.approx((3000 - 1000) / 4000)


def test_money_flow_needs_volume() -> None:
    assert money_flow(series_of_candles([USUAL] * 20, 0.0)) is None
    assert money_flow(series_of_candles([USUAL] * 19)) is None
