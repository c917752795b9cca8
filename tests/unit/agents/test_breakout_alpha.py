"""Breakout: a close beyond the 20-bar channel, with volume confirmation."""

from __future__ import annotations

import pytest

from trading_agents.alphas.breakout import breakout
from trading_agents.series import BarSeries
from trading_core.marketdata.indicators import atr

from .conftest import Candle, series_of_candles

CHANNEL: list[Candle] = [
    (100.0, 101.0, 99.0, 100.5) if index % 2 else (100.5, 101.0, 99.0, 100.0) for index in range(20)
]


def with_last(candle: Candle, volume: float, usual: float = 100.0) -> BarSeries:
    """The channel's 20 bars (99-101) at ``usual`` volume, then ``candle``."""
    return series_of_candles([*CHANNEL, candle], [usual] * 20 + [volume])


def test_close_above_the_channel_on_double_volume_scores_by_the_rule() -> None:
    series = with_last((100.5, 103.2, 100.4, 103.0), volume=200.0)
    average_range = atr(series.high, series.low, series.close)[-1]
    strength = 0.5 + 0.5 * min(1.0, (103.0 - 101.0) / average_range)

    assert breakout(series) == pytest.approx(strength * 1.0)


def test_close_below_the_channel_is_negative() -> None:
    score = breakout(with_last((100.0, 100.1, 97.5, 97.8), volume=200.0))

    assert score is not None
    assert score < -0.5


def test_close_inside_the_channel_is_no_breakout() -> None:
    assert breakout(with_last((100.0, 101.5, 99.5, 100.8), volume=500.0)) == 0.0


def test_volume_at_its_average_confirms_half() -> None:
    double = breakout(with_last((100.5, 103.2, 100.4, 103.0), volume=200.0))
    usual = breakout(with_last((100.5, 103.2, 100.4, 103.0), volume=100.0))

    assert double is not None
    assert usual is not None
    assert usual == pytest.approx(double / 2)


def test_no_recorded_volume_leaves_the_breakout_unconfirmed() -> None:
    assert breakout(with_last((100.5, 103.2, 100.4, 103.0), volume=0.0, usual=0.0)) == 0.0


def test_too_few_bars_give_no_view() -> None:
    assert breakout(series_of_candles(CHANNEL)) is None
