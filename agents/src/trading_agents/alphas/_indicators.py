"""Indicators of a ``BarSeries``, computed once per series and shared by the alphas.

Each equals, float for float, what ``trading_core.marketdata.indicators`` returns for the same
columns: the same numpy operations in the same order, with ``_maths.wilder`` in place of the
pandas recursion. Returned arrays are read-only (they are shared).
"""

from __future__ import annotations

import math

import numpy as np

from trading_agents.alphas._maths import array_mean, wilder, wilder_last
from trading_agents.series import BarSeries
from trading_core.marketdata.indicators import BOLLINGER_WIDTH, FLAT_RSI, FloatArray


def average_true_range(series: BarSeries, period: int) -> FloatArray:
    """``indicators.atr(series.high, series.low, series.close, period)``."""

    def compute() -> FloatArray:
        # indicators.true_range: the largest of the three spans (max picks, it does not round),
        # NaN at bar 0; without stacking the spans first.
        previous = np.concatenate(([np.nan], series.close[:-1]))
        high, low = series.high, series.low
        spans = np.maximum(high - low, np.abs(high - previous))
        ranges = np.maximum(spans, np.abs(low - previous))
        return _read_only(wilder(ranges, period, start=1))

    return series.derived(("atr", period), compute)


def directional_indexes(
    series: BarSeries, period: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """+DI, -DI and DX (Wilder, ``period``), as ``indicators.adx`` builds them before its last
    smoothing; +DI and -DI are 0 where the ATR is 0, DX is 0 where both are 0."""

    def compute() -> tuple[FloatArray, FloatArray, FloatArray]:
        up = np.diff(series.high, prepend=np.nan)
        down = -np.diff(series.low, prepend=np.nan)
        plus_dm = np.where((up > down) & (up > 0), up, 0.0)
        minus_dm = np.where((down > up) & (down > 0), down, 0.0)
        average_range = average_true_range(series, period)
        plus_di = ratio(100.0 * wilder(plus_dm, period, start=1), average_range)
        minus_di = ratio(100.0 * wilder(minus_dm, period, start=1), average_range)
        dx = ratio(100.0 * np.abs(plus_di - minus_di), plus_di + minus_di)
        return _read_only(plus_di), _read_only(minus_di), _read_only(dx)

    return series.derived(("directional", period), compute)


def adx_now(series: BarSeries, period: int) -> float:
    """The last value of ``indicators.adx(series.high, series.low, series.close, period)``."""

    def compute() -> float:
        return wilder_last(directional_indexes(series, period)[2], period, start=period)

    return series.derived(("adx_now", period), compute)


def rsi_now(series: BarSeries, period: int) -> float:
    """The last value of ``indicators.rsi(series.close, period)`` (NaN while not warm)."""

    def compute() -> float:
        # indicators.rsi smooths gains and losses of diff(close) from bar 1: the same values
        # (the changes without the undefined one of bar 0) from their start.
        change = series.close[1:] - series.close[:-1]
        gains = wilder_last(np.where(change > 0, change, 0.0), period)
        losses = wilder_last(np.where(change < 0, -change, 0.0), period)
        total = gains + losses
        if math.isnan(total):
            return math.nan
        return 100.0 * gains / total if total != 0 else FLAT_RSI

    return series.derived(("rsi_now", period), compute)


def band_now(series: BarSeries, period: int) -> tuple[float, float]:
    """The middle band and the deviation of ``indicators.bollinger(series.close, period)`` at
    the last bar: the mean and population deviation of the last ``period`` closes (NaN with
    fewer closes). bollinger reduces each window on its own, so this is the same float."""
    if len(series) < period:
        return math.nan, math.nan
    closes = series.close[-period:]
    return array_mean(closes), float(closes.std())


def band_widths(series: BarSeries, period: int, count: int) -> FloatArray:
    """The last ``count`` values of (upper - lower) / middle of ``indicators.bollinger(
    series.close, period)`` (``count`` at most ``len(series) - period + 1``).

    bollinger reduces each window of closes on its own (its mean, then its deviation), so the
    windows of the last ``count`` bars alone give the same floats; they are viewed once.
    """
    windows = np.lib.stride_tricks.sliding_window_view(
        series.close[-(count + period - 1) :], period
    )
    middle = windows.mean(axis=1)
    deviation = windows.std(axis=1)
    upper = middle + BOLLINGER_WIDTH * deviation
    lower = middle - BOLLINGER_WIDTH * deviation
    widths: FloatArray = (upper - lower) / middle
    return widths


def ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """numerator / denominator; 0 where the denominator is 0, NaN where either is NaN."""
    out = np.zeros(len(numerator))
    np.divide(numerator, denominator, out=out, where=denominator != 0)  # x / NaN is NaN
    out[np.isnan(numerator)] = np.nan  # NaN / 0 too
    return out


def _read_only(array: FloatArray) -> FloatArray:
    array.flags.writeable = False
    return array
