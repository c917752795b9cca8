"""Volatility alpha: is the market's range expanding or contracting against its own recent past?"""

from __future__ import annotations

from trading_agents.alphas._indicators import average_true_range, band_widths
from trading_agents.alphas._maths import array_median, log_ratio_score, mean
from trading_agents.series import BarSeries
from trading_core.marketdata.indicators import FloatArray

HISTORY = 50
"""Recent values (the current one included) whose median is "usual"."""
FULL_RATIO = 2.0
"""Twice the usual level scores +1, half of it -1."""


def volatility_min_bars(atr_period: int = 14, band_period: int = 20, history: int = HISTORY) -> int:
    """Bars for ``history`` values of both ATR (first at bar n) and the bands (first at n - 1)."""
    return max(atr_period + history, band_period - 1 + history)


def atr_ratio(series: BarSeries, *, atr_period: int = 14, history: int = HISTORY) -> float | None:
    """ATR(atr_period) / close at the last bar over its median of the last ``history`` values.

    None with fewer than ``atr_period + history`` bars or a zero median (flat prices: there is
    no usual volatility to compare against).
    """
    if len(series) < atr_period + history:
        return None
    relative = average_true_range(series, atr_period)[-history:] / series.close[-history:]
    return _ratio_to_median(relative)


def band_width_ratio(
    series: BarSeries, *, band_period: int = 20, history: int = HISTORY
) -> float | None:
    """Bollinger(band_period, 2) width (upper - lower) / middle at the last bar over its median
    of the last ``history`` values; None with too few bars or a zero median."""
    if len(series) < band_period - 1 + history:
        return None
    return _ratio_to_median(band_widths(series, band_period, history))


def volatility(
    series: BarSeries,
    *,
    atr_period: int = 14,
    band_period: int = 20,
    history: int = HISTORY,
    full_ratio: float = FULL_RATIO,
) -> float | None:
    """Expansion (> 0) or contraction (< 0) of volatility at the last bar, in [-1, 1].

    Two terms, each log(ratio) / log(full_ratio) clipped to [-1, 1], where ratio is the current
    value over its median of the last ``history`` values (``atr_ratio``, ``band_width_ratio``):
    the range (ATR / close) and the spread of closes (Bollinger width). The score is the mean of
    the terms that are defined; None when neither is (too few bars, or flat prices).

    The score has no direction: +1 means ranges twice their usual size, not "buy". Agents use it
    as a confirmation of a directional view.
    """
    terms = [
        log_ratio_score(ratio, full_ratio)
        for ratio in (
            atr_ratio(series, atr_period=atr_period, history=history),
            band_width_ratio(series, band_period=band_period, history=history),
        )
        if ratio is not None
    ]
    return mean(terms)


def _ratio_to_median(values: FloatArray) -> float | None:
    median = array_median(values)
    if not median > 0:  # zero: flat history; NaN: not warm (the caller checked the length)
        return None
    return float(values[-1]) / median
