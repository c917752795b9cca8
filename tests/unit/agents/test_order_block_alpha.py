"""Order blocks on hand-built bars: found with the right range, untested until price returns,
and pulling the score towards their side as price approaches."""

from __future__ import annotations

import pytest

from trading_agents.alphas.order_block import (
    LOOKBACK,
    REACH_ATR,
    VOLUME_FULL,
    BlockKind,
    find_order_blocks,
    order_block,
)
from trading_core.marketdata.indicators import atr

from .conftest import Candle, series_of_candles

BLOCK = 20
IMPULSE_END = 23
BLOCK_LOW, BLOCK_HIGH = 99.2, 100.8


def quiet_market() -> list[Candle]:
    """20 two-way candles around 100, each 1.3 from low to high."""
    return [
        (99.6, 100.7, 99.4, 100.4) if i % 2 == 0 else (100.4, 100.6, 99.3, 99.6) for i in range(20)
    ]


def bullish_setup() -> list[Candle]:
    """Quiet market; bar 20 a down candle; bars 21-23 an up move of 6 (about 4.5 ATR); then a
    pullback in small alternating steps from 105.5 to 102.1, above the block (bars 24-32)."""
    return [
        *quiet_market(),
        (100.4, BLOCK_HIGH, BLOCK_LOW, 99.5),
        (99.5, 101.7, 99.4, 101.5),
        (101.5, 103.7, 101.4, 103.5),
        (103.5, 105.7, 103.4, 105.5),
        (105.5, 105.6, 104.6, 104.8),
        (104.8, 105.2, 104.5, 105.0),
        (105.0, 105.1, 104.0, 104.2),
        (104.2, 104.6, 103.9, 104.4),
        (104.4, 104.5, 103.3, 103.5),
        (103.5, 103.9, 103.2, 103.7),
        (103.7, 103.8, 102.6, 102.8),
        (102.8, 103.1, 102.5, 102.9),
        (102.9, 103.0, 101.9, 102.1),
    ]


DIP = (102.1, 102.3, 100.5, 101.2)
"""Trades back into the block (low 100.5 <= its high 100.8) and closes above it."""
AFTER_DIP = (101.2, 102.0, 101.0, 101.8)


def volumes(count: int) -> list[float]:
    """100 per bar, 300 during the impulse (three times the usual volume)."""
    return [300.0 if BLOCK < index <= IMPULSE_END else 100.0 for index in range(count)]


def mirrored(candles: list[Candle]) -> list[Candle]:
    """The same market upside down around 100: up candles become down candles."""
    return [(200 - o, 200 - low, 200 - high, 200 - c) for o, high, low, c in candles]


def test_down_candle_before_an_impulsive_rise_is_a_bullish_block_with_its_range() -> None:
    candles = bullish_setup()
    series = series_of_candles(candles, volumes(len(candles)))

    blocks = find_order_blocks(series)

    assert len(blocks) == 1
    block = blocks[0]
    assert block.kind is BlockKind.BULLISH
    assert (block.index, block.impulse_end) == (BLOCK, IMPULSE_END)
    assert (block.low, block.high) == (BLOCK_LOW, BLOCK_HIGH)
    average_range = atr(series.high, series.low, series.close)[BLOCK]
    assert block.impulse_atr == pytest.approx((105.5 - 99.5) / average_range)
    assert block.volume_ratio == pytest.approx(3.0)


def test_block_is_untested_until_price_trades_back_into_it_then_tested() -> None:
    candles = [*bullish_setup(), DIP, AFTER_DIP]
    dip = len(candles) - 2

    before = find_order_blocks(series_of_candles(candles[:dip], volumes(dip)))
    with_dip = find_order_blocks(series_of_candles(candles[: dip + 1], volumes(dip + 1)))

    assert before[0].first_test is None
    assert before[0].untested_at(dip - 1)
    assert with_dip[0].first_test == dip
    assert with_dip[0].untested_at(dip - 1)
    assert not with_dip[0].untested_at(dip)


def test_score_is_quality_times_proximity_when_price_approaches_a_bullish_block() -> None:
    candles = bullish_setup()
    series = series_of_candles(candles, volumes(len(candles)))
    last = len(candles) - 1
    ranges = atr(series.high, series.low, series.close)
    size = min(1.0, (105.5 - 99.5) / ranges[BLOCK] / (2 * 2.0))
    volume = min(1.0, 3.0 / VOLUME_FULL)
    freshness = 1 - (last - IMPULSE_END) / LOOKBACK
    proximity = 1 - (102.1 - BLOCK_HIGH) / (REACH_ATR * ranges[last])

    score = order_block(series)

    assert score == pytest.approx((size + volume + freshness) / 3 * proximity)
    assert score is not None
    assert score > 0


def test_score_grows_as_price_comes_closer_to_the_block() -> None:
    candles = [*bullish_setup(), DIP]
    scores = {
        t: order_block(series_of_candles(candles[: t + 1], volumes(t + 1)))
        for t in (26, 30, 32, len(candles) - 1)
    }

    assert all(score is not None and score > 0 for score in scores.values())
    ordered = [scores[t] or 0.0 for t in sorted(scores)]
    assert ordered == sorted(ordered)


def test_tested_block_no_longer_counts() -> None:
    candles = [*bullish_setup(), DIP, AFTER_DIP]

    assert order_block(series_of_candles(candles, volumes(len(candles)))) is None


def test_block_the_close_has_gone_through_has_failed() -> None:
    # A gap below the block (an up candle, so the drop makes no new bearish block).
    candles = [*bullish_setup(), (98.0, 99.0, 97.9, 98.5)]
    series = series_of_candles(candles, volumes(len(candles)))

    assert [block.index for block in find_order_blocks(series)] == [BLOCK]
    assert order_block(series) is None


def test_block_far_out_of_reach_gives_no_view() -> None:
    candles = bullish_setup()[: IMPULSE_END + 1]  # the impulse has just ended: price is far up
    candles.append((105.5, 109.7, 105.4, 109.5))

    assert order_block(series_of_candles(candles, volumes(len(candles)))) is None


def test_the_last_of_two_down_candles_is_the_block() -> None:
    candles = bullish_setup()
    candles[BLOCK - 1] = (100.6, 100.7, 99.4, 99.8)  # a down candle right before the block

    blocks = find_order_blocks(series_of_candles(candles, volumes(len(candles))))

    assert [block.index for block in blocks] == [BLOCK]


def test_a_rise_smaller_than_the_impulse_threshold_makes_no_block() -> None:
    candles = bullish_setup()

    blocks = find_order_blocks(series_of_candles(candles, volumes(len(candles))), impulse_atr=5.0)

    assert blocks == []


def test_a_rise_interrupted_by_a_down_candle_is_cut_there() -> None:
    candles = bullish_setup()
    candles[BLOCK + 2] = (101.5, 101.6, 100.9, 101.0)  # a down candle inside the rise

    blocks = find_order_blocks(series_of_candles(candles, volumes(len(candles))))

    assert BLOCK not in [block.index for block in blocks]


def test_mirrored_market_gives_a_bearish_block_and_the_opposite_score() -> None:
    up = bullish_setup()
    down = mirrored(up)

    blocks = find_order_blocks(series_of_candles(down, volumes(len(down))))
    bullish_score = order_block(series_of_candles(up, volumes(len(up))))
    bearish_score = order_block(series_of_candles(down, volumes(len(down))))

    assert [(block.kind, block.index) for block in blocks] == [(BlockKind.BEARISH, BLOCK)]
    assert (blocks[0].low, blocks[0].high) == pytest.approx((BLOCK_LOW, BLOCK_HIGH))
    assert bullish_score is not None
    assert bearish_score is not None
    assert bearish_score == pytest.approx(-bullish_score)


def test_quality_falls_as_the_block_ages() -> None:
    candles = bullish_setup()
    block = find_order_blocks(series_of_candles(candles, volumes(len(candles))))[0]

    fresh, older = block.quality(IMPULSE_END), block.quality(IMPULSE_END + 50)

    assert 0 <= older < fresh <= 1
    assert fresh - older == pytest.approx(50 / LOOKBACK / 3)


def test_too_few_bars_give_no_blocks() -> None:
    assert find_order_blocks(series_of_candles(quiet_market()[:10])) == []
    assert order_block(series_of_candles(quiet_market()[:10])) is None
