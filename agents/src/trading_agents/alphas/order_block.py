"""Order-block alpha: untested order blocks near price, scored by their quality.

Definitions (bars indexed from 0 to T, the last one; ATR_t = ATR(``atr_period``) at bar t):

- **Bullish order block** at bar i: bar i is a down candle (close < open) and the bars after it
  start an *impulsive* up move. The move is the run of up-or-flat candles (close >= open)
  from bar i+1, cut after ``impulse_bars`` bars (or at T): bars i+1..e. It is *impulsive* when
  its highest close is at least ``impulse_atr`` * ATR_i above close_i (ATR_i is known before
  the move). Bar i is then the last opposite candle before an impulsive move. The block is
  the range [low_i, high_i].
- **Bearish order block**: the mirror image: an up candle (close > open) followed by a run of
  down-or-flat candles whose lowest close is at least ``impulse_atr`` * ATR_i below close_i.
- **Tested**: the first bar t > e (after the impulse) whose range reaches back into the block:
  low_t <= high_i for a bullish block, high_t >= low_i for a bearish one. Until then the block
  is **untested**.
- **Quality** q in [0, 1] at bar T, the mean of three terms:
  impulse size = clip(move / ATR_i / (2 * impulse_atr), 0, 1) (so at least 0.5);
  volume = clip(mean volume of the impulse bars / mean volume of the ``volume_period`` bars up
  to bar i / ``VOLUME_FULL``, 0, 1) (0 without recorded volume);
  freshness = clip(1 - (T - e) / lookback, 0, 1).

Blocks are searched among bars i >= T - ``lookback`` (with ATR_i defined and above 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from trading_agents.alphas._indicators import average_true_range
from trading_agents.alphas._maths import array_mean, clip
from trading_agents.series import BarSeries
from trading_core.marketdata.indicators import FloatArray

IMPULSE_BARS = 3
IMPULSE_ATR = 2.0
LOOKBACK = 100
REACH_ATR = 3.0
"""Distance (in ATRs of the last bar) at which a block stops pulling: proximity 0."""
VOLUME_PERIOD = 20
VOLUME_FULL = 2.0
"""Impulse volume at this multiple of the usual volume scores the volume term in full."""


class BlockKind(StrEnum):
    BULLISH = "bullish"
    BEARISH = "bearish"


@dataclass(frozen=True, slots=True)
class OrderBlock:
    """One order block found in a series (indices into that series)."""

    kind: BlockKind
    index: int
    """The block candle i."""
    impulse_end: int
    """The last bar e of the impulsive run."""
    low: float
    high: float
    impulse_atr: float
    """The move (highest close minus close_i, or close_i minus lowest close) in ATR_i."""
    volume_ratio: float | None
    """Mean impulse volume over the mean volume before it; None without recorded volume."""
    first_test: int | None
    """The first bar after the impulse that traded back into the block; None if none did."""
    impulse_threshold: float = IMPULSE_ATR
    """The ``impulse_atr`` the block was found with (its size term is relative to it)."""

    def untested_at(self, index: int) -> bool:
        """True while no bar up to ``index`` (after the impulse) has traded into the block."""
        return self.first_test is None or self.first_test > index

    def quality(self, last: int, lookback: int = LOOKBACK) -> float:
        """q in [0, 1] seen from bar ``last`` (module docstring: size, volume, freshness)."""
        size = clip(self.impulse_atr / (2.0 * self.impulse_threshold), 0.0, 1.0)
        volume = 0.0
        if self.volume_ratio is not None:
            volume = clip(self.volume_ratio / VOLUME_FULL, 0.0, 1.0)
        freshness = clip(1.0 - (last - self.impulse_end) / lookback, 0.0, 1.0)
        return (size + volume + freshness) / 3.0


def order_block_min_bars(atr_period: int = 14) -> int:
    """A block candle with ATR defined (bar atr_period) and one bar of impulse after it."""
    return atr_period + 2


def find_order_blocks(
    series: BarSeries,
    *,
    atr_period: int = 14,
    impulse_bars: int = IMPULSE_BARS,
    impulse_atr: float = IMPULSE_ATR,
    lookback: int = LOOKBACK,
) -> list[OrderBlock]:
    """Every order block whose candle lies in the last ``lookback`` bars, oldest first."""
    last = len(series) - 1
    if last < order_block_min_bars(atr_period) - 1:
        return []
    ranges = average_true_range(series, atr_period)
    blocks: list[OrderBlock] = []
    for index in _candidates(series, ranges, atr_period, impulse_bars, impulse_atr, lookback):
        block = _block_at(series, index, float(ranges[index]), impulse_bars, impulse_atr)
        if block is not None:
            blocks.append(block)
    return blocks


def _candidates(
    series: BarSeries,
    ranges: FloatArray,
    atr_period: int,
    impulse_bars: int,
    impulse_atr: float,
    lookback: int,
) -> list[int]:
    """Bars that could be block candles: opposite candle, ATR > 0, and a big enough move
    somewhere in the next ``impulse_bars`` closes (necessary, not sufficient: the run may be cut
    earlier by an opposite candle). A vectorised screen before the exact per-bar check."""
    last = len(series) - 1
    index = np.arange(max(atr_period, last - lookback), last)
    if len(index) == 0:
        return []
    # The highest and lowest of the next impulse_bars closes of each candidate (those that
    # exist: the next one always does), as nanmax / nanmin of those closes would pick them.
    count = len(index)
    ahead = np.concatenate((series.close[index[0] + 1 :], np.full(impulse_bars - 1, np.nan)))
    highest = lowest = ahead[:count]
    for step in range(1, impulse_bars):
        highest = np.fmax(highest, ahead[step : step + count])
        lowest = np.fmin(lowest, ahead[step : step + count])
    close, open_, threshold = series.close[index], series.open[index], impulse_atr * ranges[index]
    usable = ranges[index] > 0
    bullish = usable & (close < open_) & (highest - close >= threshold)
    bearish = usable & (close > open_) & (close - lowest >= threshold)
    return [int(i) for i in index[bullish | bearish]]


def order_block(
    series: BarSeries,
    *,
    atr_period: int = 14,
    impulse_bars: int = IMPULSE_BARS,
    impulse_atr: float = IMPULSE_ATR,
    lookback: int = LOOKBACK,
    reach_atr: float = REACH_ATR,
) -> float | None:
    """The pull of the strongest untested order block on the last close, in [-1, 1].

    Blocks untested before the last bar T count (the last bar trading into a block is the
    approach this alpha looks for); a block the last close has gone through (below a bullish
    block's low, above a bearish block's high) has failed and does not count.
    proximity = clip(1 - distance / (``reach_atr`` * ATR_T), 0, 1), distance = how far the close
    is from the block's near edge (0 inside it). Score = +q * proximity for a bullish block
    (price coming down to support: buy), -q * proximity for a bearish one. The block with the
    largest |score| wins (ties: the most recent). None when no untested block lies within reach.
    """
    last = len(series) - 1
    blocks = find_order_blocks(
        series,
        atr_period=atr_period,
        impulse_bars=impulse_bars,
        impulse_atr=impulse_atr,
        lookback=lookback,
    )
    if not blocks:
        return None
    close = float(series.close[-1])
    last_range = float(average_true_range(series, atr_period)[-1])
    best = 0.0
    for block in blocks:
        if not block.untested_at(last - 1):
            continue
        proximity = _proximity(block, close, last_range, reach_atr)
        if proximity is None:
            continue
        quality = block.quality(last, lookback)
        score = quality * proximity * (1.0 if block.kind is BlockKind.BULLISH else -1.0)
        if abs(score) >= abs(best) and score != 0.0:
            best = score
    return best if best != 0.0 else None


def _block_at(
    series: BarSeries, index: int, average_range: float, impulse_bars: int, impulse_atr: float
) -> OrderBlock | None:
    open_, close = float(series.open[index]), float(series.close[index])
    if close < open_:
        kind, sign = BlockKind.BULLISH, 1.0
    elif close > open_:
        kind, sign = BlockKind.BEARISH, -1.0
    else:
        return None
    end = _run_end(series, index, impulse_bars, sign)
    if end is None:
        return None
    run = series.close[index + 1 : end + 1]
    move = float(np.max(run)) - close if sign > 0 else close - float(np.min(run))
    if move < impulse_atr * average_range:
        return None
    low, high = float(series.low[index]), float(series.high[index])
    return OrderBlock(
        kind=kind,
        index=index,
        impulse_end=end,
        low=low,
        high=high,
        impulse_atr=move / average_range,
        volume_ratio=_impulse_volume_ratio(series.volume, index, end),
        first_test=_first_test(series, end, low, high, kind),
        impulse_threshold=impulse_atr,
    )


def _run_end(series: BarSeries, index: int, impulse_bars: int, sign: float) -> int | None:
    """Last bar of the run of candles (with ``sign``: up-or-flat / down-or-flat) after index."""
    end = None
    for bar in range(index + 1, min(index + impulse_bars, len(series) - 1) + 1):
        body = float(series.close[bar] - series.open[bar]) * sign
        if body < 0:
            break
        end = bar
    return end


def _impulse_volume_ratio(volume: FloatArray, index: int, end: int) -> float | None:
    before = volume[max(0, index + 1 - VOLUME_PERIOD) : index + 1]
    usual = array_mean(before)
    if not usual > 0:
        return None
    return array_mean(volume[index + 1 : end + 1]) / usual


def _first_test(
    series: BarSeries, end: int, low: float, high: float, kind: BlockKind
) -> int | None:
    if kind is BlockKind.BULLISH:
        hits = np.flatnonzero(series.low[end + 1 :] <= high)
    else:
        hits = np.flatnonzero(series.high[end + 1 :] >= low)
    return end + 1 + int(hits[0]) if len(hits) else None


def _proximity(
    block: OrderBlock, close: float, last_range: float, reach_atr: float
) -> float | None:
    """None when the close went through the block (it failed)."""
    if block.kind is BlockKind.BULLISH:
        if close < block.low:
            return None
        distance = max(0.0, close - block.high)
    else:
        if close > block.high:
            return None
        distance = max(0.0, block.low - close)
    if distance == 0.0:
        return 1.0
    if math.isnan(last_range) or not last_range > 0:
        return 0.0
    return clip(1.0 - distance / (reach_atr * last_range), 0.0, 1.0)
