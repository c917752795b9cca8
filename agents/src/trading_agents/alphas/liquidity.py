"""Liquidity alpha: is there more or less volume than usual, and is the spread tight or wide?

Bars carry no quotes, so unless a quoted spread is given the spread is proxied by the bar's
range relative to its close, (high - low) / close, judged against its own recent median.
"""

from __future__ import annotations

import numpy as np

from trading_agents.alphas._maths import array_mean, array_median, clip, log_ratio_score, mean
from trading_agents.series import BarSeries

PERIOD = 20
"""Previous bars the current one is compared with."""
FULL_RATIO = 2.0
"""Twice the usual volume scores +1 on volume (half of it -1); likewise for the spread."""
WIDE_QUOTED_SPREAD = 0.002
"""A quoted spread (fraction of the mid) this wide scores -1; zero scores +1; half of it 0."""
QUOTED_SPREAD_KEY = "quoted_spread"
"""Indicator name under which an orchestrator may pass the current quoted spread (fraction)."""


def liquidity_min_bars(period: int = PERIOD) -> int:
    """The current bar and ``period`` previous ones."""
    return period + 1


def volume_ratio(series: BarSeries, *, period: int = PERIOD) -> float | None:
    """Volume of the last bar over the mean volume of the ``period`` bars before it.

    None with too few bars or when those bars recorded no volume at all.
    """
    if len(series) < period + 1:
        return None
    usual = array_mean(series.volume[-period - 1 : -1])
    return float(series.volume[-1]) / usual if usual > 0 else None


def range_spread_ratio(series: BarSeries, *, period: int = PERIOD) -> float | None:
    """The spread proxy (high - low) / close of the last bar over its median of the ``period``
    bars before it; None with too few bars or a zero median (bars without a range)."""
    if len(series) < period + 1:
        return None
    recent = slice(-period - 1, None)
    proxy = (series.high[recent] - series.low[recent]) / series.close[recent]
    usual = array_median(proxy[:-1])
    return float(proxy[-1]) / usual if usual > 0 else None


def liquidity(
    series: BarSeries,
    *,
    period: int = PERIOD,
    full_ratio: float = FULL_RATIO,
    quoted_spread: float | None = None,
    wide_quoted_spread: float = WIDE_QUOTED_SPREAD,
) -> float | None:
    """How liquid the last bar was, in [-1, 1]: > 0 deep (busy, tight), < 0 thin (quiet, wide).

    The mean of the terms that are defined (None when neither is):

    - volume: log(``volume_ratio``) / log(full_ratio), clipped to [-1, 1];
    - spread: with ``quoted_spread`` (a fraction of the mid), 1 - 2 * quoted_spread /
      wide_quoted_spread clipped to [-1, 1]; without it, -log(``range_spread_ratio``) /
      log(full_ratio) clipped (a range twice its usual size reads as a wide spread: -1).

    The score has no direction; agents use it to confirm or to size, not to pick a side.
    """
    terms: list[float] = []
    ratio = volume_ratio(series, period=period)
    if ratio is not None:
        terms.append(log_ratio_score(ratio, full_ratio))
    if quoted_spread is not None:
        terms.append(clip(1.0 - 2.0 * quoted_spread / wide_quoted_spread))
    else:
        spread = range_spread_ratio(series, period=period)
        if spread is not None:
            terms.append(-log_ratio_score(spread, full_ratio))
    return mean(terms)


def money_flow(series: BarSeries, *, period: int = PERIOD) -> float | None:
    """Chaikin money flow over the last ``period`` bars, in [-1, 1]: who the volume sided with.

    Each bar's close location value CLV = ((close - low) - (high - close)) / (high - low)
    (+1 closing at the high, -1 at the low, 0 for a bar without a range) is weighted by its
    volume: score = sum(CLV * volume) / sum(volume). None with fewer than ``period`` bars or
    no volume in them.
    """
    if len(series) < period:
        return None
    high, low, close = series.high[-period:], series.low[-period:], series.close[-period:]
    volume = series.volume[-period:]
    total = float(np.sum(volume))
    if not total > 0:
        return None
    span = high - low
    location = np.divide(
        (close - low) - (high - close), span, out=np.zeros_like(span), where=span > 0
    )
    return clip(float(np.sum(location * volume)) / total)
