"""Momentum alpha: the direction of a trend, counted only when ADX says there is one."""

from __future__ import annotations

import math

import numpy as np

from trading_agents.alphas._maths import clip
from trading_agents.series import BarSeries
from trading_core.marketdata.indicators import FloatArray, atr, wilder

ADX_FLOOR = 20.0
"""ADX below this: no trend worth following (score 0)."""
ADX_FULL = 45.0
"""ADX at or above this: full strength."""
DI_FULL_SPREAD = 0.5
"""DI spread (below) at which the direction counts in full (one DI 3x the other)."""
DI_MIN_SUM = 20.0
"""The DI spread is measured against max(+DI + -DI, this): directional movement of a few
percent of the ATR is no direction, even when ADX reads high (with -DM exactly 0 for long, as
in bars that make no new lows, DX is 100 whatever the size of +DI)."""


def momentum_min_bars(period: int = 14) -> int:
    """Bars needed for a reading: ADX(period) is first defined at bar 2 * period - 1."""
    return 2 * period


def directional_indicators(
    series: BarSeries, period: int = 14
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ADX, +DI and -DI (Wilder), as ``trading_core.marketdata.indicators.adx`` computes them.

    Computed here in one pass because the indicators module returns ADX alone; DI is 0 when
    ATR is 0 and DX is 0 when both DI are 0.
    """
    up = np.diff(series.high, prepend=np.nan)
    down = -np.diff(series.low, prepend=np.nan)
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    average_range = atr(series.high, series.low, series.close, period)
    plus_di = _ratio(100.0 * wilder(plus_dm, period, start=1), average_range)
    minus_di = _ratio(100.0 * wilder(minus_dm, period, start=1), average_range)
    dx = _ratio(100.0 * np.abs(plus_di - minus_di), plus_di + minus_di)
    return wilder(dx, period, start=period), plus_di, minus_di


def momentum(
    series: BarSeries,
    *,
    period: int = 14,
    adx_floor: float = ADX_FLOOR,
    adx_full: float = ADX_FULL,
) -> float | None:
    """ADX-gated trend direction at the last bar, in [-1, 1]; None with too few bars.

    The rule, with ADX, +DI and -DI over ``period`` (Wilder, the indicators module's conventions):

    - strength = clip((ADX - adx_floor) / (adx_full - adx_floor), 0, 1): 0 below the floor,
      so a market without a trend scores exactly 0 (a view: nothing to follow);
    - direction = (+DI - -DI) / max(+DI + -DI, ``DI_MIN_SUM``), divided by
      ``DI_FULL_SPREAD`` and clipped to [-1, 1];
    - score = strength * direction: positive in an up-trend, negative in a down-trend.

    A flat series has ATR 0, hence DI 0, ADX 0 and a score of 0.
    """
    if len(series) < momentum_min_bars(period):
        return None
    adx_values, plus_di, minus_di = directional_indicators(series, period)
    adx_now = float(adx_values[-1])
    if math.isnan(adx_now):
        return None
    strength = clip((adx_now - adx_floor) / (adx_full - adx_floor), 0.0, 1.0)
    if strength == 0.0:
        return 0.0
    plus, minus = float(plus_di[-1]), float(minus_di[-1])
    spread = (plus - minus) / max(plus + minus, DI_MIN_SUM)
    return strength * clip(spread / DI_FULL_SPREAD)


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """numerator / denominator; 0 where the denominator is 0, NaN where either is NaN."""
    out = np.full(len(numerator), np.nan)
    defined = ~np.isnan(denominator) & ~np.isnan(numerator)
    nonzero = defined & (denominator != 0)
    out[nonzero] = numerator[nonzero] / denominator[nonzero]
    out[defined & (denominator == 0)] = 0.0
    return out
