"""Breakout alpha: a close beyond the recent high or low, confirmed by volume."""

from __future__ import annotations

import math

import numpy as np

from trading_agents.alphas._indicators import average_true_range
from trading_agents.alphas._maths import array_mean, clip
from trading_agents.series import BarSeries

CHANNEL = 20
"""Previous bars whose highest high / lowest low form the channel."""
VOLUME_FULL = 2.0
"""Volume this many times its average confirms a breakout in full."""


def breakout_min_bars(channel: int = CHANNEL, atr_period: int = 14) -> int:
    """The channel's bars plus the current one, and ATR (first at bar atr_period)."""
    return max(channel, atr_period) + 1


def breakout(
    series: BarSeries,
    *,
    channel: int = CHANNEL,
    atr_period: int = 14,
    volume_full: float = VOLUME_FULL,
) -> float | None:
    """A breakout of the ``channel``-bar range at the last bar, in [-1, 1]; None if too few bars.

    - level: the highest high and the lowest low of the ``channel`` bars before the last one;
    - direction: +1 if the last close is above the high level, -1 if below the low level;
      otherwise the score is 0 (inside the channel: a view, no breakout);
    - strength = 0.5 + 0.5 * clip(distance beyond the level / ATR(atr_period), 0, 1): a close
      beyond by a hair counts half, by one ATR or more in full (ATR 0: in full);
    - volume confirmation = clip(volume / mean volume of the channel bars / volume_full, 0, 1):
      at its average volume a breakout is half confirmed, at ``volume_full`` times fully; with no
      recorded volume it is unconfirmed (0), and an unconfirmed breakout is no breakout;
    - score = direction * strength * confirmation.
    """
    if len(series) < breakout_min_bars(channel, atr_period):
        return None
    close = float(series.close[-1])
    top = float(np.max(series.high[-channel - 1 : -1]))
    bottom = float(np.min(series.low[-channel - 1 : -1]))
    if close > top:
        direction, distance = 1.0, close - top
    elif close < bottom:
        direction, distance = -1.0, bottom - close
    else:
        return 0.0
    average_range = float(average_true_range(series, atr_period)[-1])
    if math.isnan(average_range):
        return None
    reach = distance / average_range if average_range > 0 else 1.0
    strength = 0.5 + 0.5 * clip(reach, 0.0, 1.0)
    usual_volume = array_mean(series.volume[-channel - 1 : -1])
    if not usual_volume > 0:
        return 0.0
    confirmation = clip(float(series.volume[-1]) / usual_volume / volume_full, 0.0, 1.0)
    return direction * strength * confirmation
