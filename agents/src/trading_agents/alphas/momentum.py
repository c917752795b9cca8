"""Momentum alpha: the direction of a trend, counted only when ADX says there is one."""

from __future__ import annotations

import math

from trading_agents.alphas._indicators import adx_now, directional_indexes
from trading_agents.alphas._maths import clip, wilder
from trading_agents.series import BarSeries
from trading_core.marketdata.indicators import FloatArray

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
    plus_di, minus_di, dx = directional_indexes(series, period)
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
    # Only the last ADX is needed: its smoothing is not kept (directional_indicators has it).
    adx_value = adx_now(series, period)
    if math.isnan(adx_value):
        return None
    strength = clip((adx_value - adx_floor) / (adx_full - adx_floor), 0.0, 1.0)
    if strength == 0.0:
        return 0.0
    plus_di, minus_di, _ = directional_indexes(series, period)
    plus, minus = float(plus_di[-1]), float(minus_di[-1])
    spread = (plus - minus) / max(plus + minus, DI_MIN_SUM)
    return strength * clip(spread / DI_FULL_SPREAD)
