"""Which kind of market a symbol is in: trending up or down, ranging, or unusually volatile."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

import numpy as np

from trading_core.domain.base import Frozen
from trading_core.domain.errors import DataError
from trading_core.domain.market import Bar
from trading_core.marketdata.fast_math import array_mean as _mean
from trading_core.marketdata.fast_math import array_median as _median
from trading_core.marketdata.fast_math import wilder as _wilder
from trading_core.marketdata.fast_math import wilder_last as _wilder_last
from trading_core.marketdata.indicators import (
    ADX_PERIOD,
    ATR_PERIOD,
    BOLLINGER_PERIOD,
    BOLLINGER_WIDTH,
    FloatArray,
    bollinger,
    true_range,
)

MIN_BARS = 60
"""Fewer bars than this raise ``DataError``: ADX needs 27 to start and the fit 50."""
LOOKBACK_BARS = 300
"""Only the latest bars are used, so a reading depends on recent data alone."""
TREND_WINDOW = 50
"""Bars in the linear fit of log closes."""
VOLATILITY_HISTORY = 250
"""Latest ATR and band-width values (up to) the current ones are ranked against."""
HIGH_VOL_ATR_PERCENTILE = 80.0
HIGH_VOL_ATR_RATIO = 1.5
HIGH_VOL_BB_RATIO = 1.0
TREND_ADX = 20.0
TREND_SLOPE = 0.08
"""ATRs per bar the fitted trend line must move (a clean trend moves several tenths)."""
# The thresholds were tuned by hand against SyntheticSource's own regime labels (hourly walks,
# labels in force for 30+ bars): about 70 % agree, against 25 % by chance. Volatility is judged
# against the symbol's own recent past, so a long volatile stretch ends up "normal".
# Where a reading counts as certain (confidence 1): how far past each threshold.
_FULL_ATR_PERCENTILE = 100.0
_FULL_ATR_RATIO = 3.0
_FULL_ADX = 50.0
_FULL_SLOPE = 0.3
_CLEAR_RANGING_ADX = 12.0


class MarketRegime(StrEnum):
    TRENDING_UP = "trending_up"
    TRENDING_DOWN = "trending_down"
    RANGING = "ranging"
    HIGH_VOLATILITY = "high_volatility"


class RegimeReading(Frozen):
    """A regime, how sure the rule is of it (0.5 at a threshold, 1 well past it), and why."""

    regime: MarketRegime
    confidence: float
    inputs: dict[str, float | None]
    bars_used: int


def classify_regime(bars: Sequence[Bar]) -> RegimeReading:
    """The regime of the latest bar of ``bars`` (one symbol, oldest first).

    Inputs, over the last ``LOOKBACK_BARS`` bars (``indicators`` conventions), all at the
    latest bar: ``adx_14``; ``atr_pct`` = ATR(14) / close; ``atr_percentile`` = its mid-rank
    percentile (0-100, ties count half) among its last ``VOLATILITY_HISTORY`` values;
    ``atr_ratio`` = ``atr_pct`` / the median of those values; ``bb_width`` = (upper - lower) /
    middle Bollinger(20, 2) band and ``bb_width_ratio`` = it / its median over the same
    history; ``log_slope`` = the least-squares slope of ln(close) per bar over the last
    ``TREND_WINDOW`` bars, ``trend_slope`` = ``log_slope`` / ``atr_pct`` (ATRs per bar) and
    ``trend_r2`` the fit's R squared.

    The rule, first match wins (volatility first: it matters most to risk):

    1. ``high_volatility`` if atr_percentile >= ``HIGH_VOL_ATR_PERCENTILE`` and atr_ratio >=
       ``HIGH_VOL_ATR_RATIO`` and bb_width_ratio >= ``HIGH_VOL_BB_RATIO`` (the ranges are at
       the top of their history, well above usual, and the closes spread too: not one wick);
    2. ``trending_up`` / ``trending_down`` if adx_14 >= ``TREND_ADX`` and |trend_slope| >=
       ``TREND_SLOPE``, by the slope's sign (directional movement that goes somewhere:
       an oscillation can have a high ADX but a flat fit);
    3. ``ranging`` otherwise.

    Confidence is 0.5 + 0.5 m, where m (0-1) is how far the deciding inputs are past their
    thresholds towards a "certain" level: for rules 1 and 2 the least convincing condition
    counts; for ranging the most convincing of ADX below ``TREND_ADX`` (certain at 12) and
    |trend_slope| below ``TREND_SLOPE`` (certain at 0). Raises ``DataError`` for fewer than
    ``MIN_BARS`` bars and ``ValueError`` for bars of several symbols.
    """
    window = _window_of(bars)
    inputs = _inputs(window)
    regime, confidence = _decide(inputs)
    return RegimeReading(
        regime=regime, confidence=confidence, inputs=inputs, bars_used=len(window.close)
    )


def _inputs(window: _Window) -> dict[str, float | None]:
    close = window.close
    ranges = _wilder(window.true_range, ATR_PERIOD, start=1)  # indicators.atr
    atr_pct = _defined(ranges / close)[-VOLATILITY_HISTORY:]
    bb_width = _defined(window.band_width)[-VOLATILITY_HISTORY:]
    current = float(atr_pct[-1])
    log_slope, r2 = _log_fit(close[-TREND_WINDOW:])
    return {
        f"adx_{ADX_PERIOD}": _adx_now(window, ranges),
        "atr_pct": current,
        "atr_percentile": _percentile_rank(atr_pct),
        "atr_ratio": _ratio(current, _median(atr_pct)),
        "bb_width": float(bb_width[-1]),
        "bb_width_ratio": _ratio(float(bb_width[-1]), _median(bb_width)),
        "log_slope": log_slope,
        "trend_slope": _ratio(log_slope, current),
        "trend_r2": r2,
    }


def _adx_now(window: _Window, ranges: FloatArray) -> float:
    """``indicators.adx(high, low, close)[-1]``, from the window's DM and the ATR ``ranges``."""
    n = ADX_PERIOD
    average_range = ranges if n == ATR_PERIOD else _wilder(window.true_range, n, start=1)
    plus_di = _array_ratio(100.0 * _wilder(window.plus_dm, n, start=1), average_range, 0.0)
    minus_di = _array_ratio(100.0 * _wilder(window.minus_dm, n, start=1), average_range, 0.0)
    dx = _array_ratio(100.0 * np.abs(plus_di - minus_di), plus_di + minus_di, 0.0)
    return _wilder_last(dx, n, start=n)


def _decide(inputs: dict[str, float | None]) -> tuple[MarketRegime, float]:
    percentile = _value(inputs, "atr_percentile")
    atr_ratio = inputs["atr_ratio"]
    bb_ratio = inputs["bb_width_ratio"]
    if (
        percentile >= HIGH_VOL_ATR_PERCENTILE
        and atr_ratio is not None
        and atr_ratio >= HIGH_VOL_ATR_RATIO
        and bb_ratio is not None
        and bb_ratio >= HIGH_VOL_BB_RATIO
    ):
        margin = min(
            _margin(percentile, HIGH_VOL_ATR_PERCENTILE, _FULL_ATR_PERCENTILE),
            _margin(atr_ratio, HIGH_VOL_ATR_RATIO, _FULL_ATR_RATIO),
        )
        return MarketRegime.HIGH_VOLATILITY, _confidence(margin)
    adx_value = _value(inputs, f"adx_{ADX_PERIOD}")
    slope = inputs["trend_slope"]
    steepness = abs(slope) if slope is not None else 0.0
    if adx_value >= TREND_ADX and steepness >= TREND_SLOPE:
        margin = min(
            _margin(adx_value, TREND_ADX, _FULL_ADX), _margin(steepness, TREND_SLOPE, _FULL_SLOPE)
        )
        regime = MarketRegime.TRENDING_UP if slope and slope > 0 else MarketRegime.TRENDING_DOWN
        return regime, _confidence(margin)
    margin = max(
        _margin(-adx_value, -TREND_ADX, -_CLEAR_RANGING_ADX), _margin(-steepness, -TREND_SLOPE, 0.0)
    )
    return MarketRegime.RANGING, _confidence(margin)


def _log_fit(close: FloatArray) -> tuple[float, float | None]:
    """Least-squares slope of ln(close) per bar, and R squared (None for a flat series)."""
    y = np.log(close)
    # np.ptp: tested exactly, as the mean of equal floats can be off in the last bit.
    if np.maximum.reduce(y) - np.minimum.reduce(y) == 0:
        return 0.0, None
    x, design, scale, rcond = _line_design(len(y))
    # np.polyfit(x, y, 1), without rebuilding its scaled design matrix (the same every time).
    slope, intercept = np.linalg.lstsq(design, y, rcond)[0] / scale
    total = float(np.add.reduce((y - _mean(y)) ** 2))
    residual = float(np.add.reduce((y - (slope * x + intercept)) ** 2))
    return float(slope), 1.0 - residual / total


@cache
def _line_design(length: int) -> tuple[FloatArray, FloatArray, FloatArray, float]:
    """x = 0..length-1, and as np.polyfit builds them for a line: the Vandermonde matrix of x
    with columns scaled to unit norm, the scales, and rcond."""
    x = np.arange(length, dtype=np.float64)
    design = np.vander(x, 2)
    scale = np.sqrt((design * design).sum(axis=0))
    design /= scale
    for array in (x, design, scale):
        array.flags.writeable = False
    return x, design, scale, length * float(np.finfo(np.float64).eps)


def _percentile_rank(history: FloatArray) -> float:
    current = history[-1]
    below = np.count_nonzero(history < current)
    equal = np.count_nonzero(history == current)
    return float(100.0 * (below + 0.5 * equal) / len(history))


def _defined(values: FloatArray) -> FloatArray:
    return values[~np.isnan(values)]


def _ratio(numerator: float, denominator: float) -> float | None:
    # A zero denominator means flat prices: no volatility to compare against, no trend unit.
    return numerator / denominator if denominator != 0 else None


def _value(inputs: dict[str, float | None], name: str) -> float:
    value = inputs[name]
    if value is None or not math.isfinite(value):
        raise DataError(f"regime input {name} is undefined")
    return value


def _margin(value: float, threshold: float, full: float) -> float:
    return min(1.0, max(0.0, (value - threshold) / (full - threshold)))


def _confidence(margin: float) -> float:
    return round(0.5 + 0.5 * margin, 4)


# ---- the window of bars, measured once -------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Window:
    """The bars a reading uses, as columns, with the inputs that depend on a few bars only.

    ``true_range`` (NaN at 0), ``plus_dm`` / ``minus_dm`` (0 at 0) and ``band_width`` (the
    Bollinger width (upper - lower) / middle, NaN before bar ``BOLLINGER_PERIOD - 1``) are
    what ``indicators.true_range``, ``adx`` and ``bollinger`` compute over these bars. Only
    the Wilder smoothings depend on where the window starts: ``_inputs`` computes them.
    """

    bars: tuple[Bar, ...]
    high: FloatArray
    low: FloatArray
    close: FloatArray
    true_range: FloatArray
    plus_dm: FloatArray
    minus_dm: FloatArray
    band_width: FloatArray

    def __post_init__(self) -> None:
        # Remembered and reused on the next bar: nothing may change them.
        columns = (self.high, self.low, self.close, self.true_range, self.plus_dm, self.minus_dm)
        for column in (*columns, self.band_width):
            column.flags.writeable = False


_MEMO_SYMBOLS = 64
_windows: dict[str, _Window] = {}
"""The last window of each symbol (the most recently used last)."""


def _window_of(bars: Sequence[Bar]) -> _Window:
    """The window of the last ``LOOKBACK_BARS`` of ``bars``, checked as ``classify_regime`` says.

    A pipeline classifies each symbol on every bar with the previous tuple plus the new bar
    (minus the oldest once full). The last window of each symbol is kept, for tuples (the
    same object always holds the same bars): when all but the newest bar are, one by one,
    the same objects as the end of its bars, only the newest bar is converted and measured.
    """
    memo = isinstance(bars, tuple) and 0 < len(bars) <= LOOKBACK_BARS
    remembered = _windows.get(bars[-1].symbol) if memo else None
    if remembered is not None and remembered.bars is bars:
        return remembered
    window = _extended(remembered, bars) if remembered is not None else None
    if window is None:
        if len({bar.symbol for bar in bars}) > 1:
            raise ValueError("classify_regime needs the bars of one symbol")
        if len(bars) < MIN_BARS:
            raise DataError(f"a market regime needs at least {MIN_BARS} bars, got {len(bars)}")
        window = _measured(tuple(bars[-LOOKBACK_BARS:]))
    if memo:
        symbol = window.bars[-1].symbol
        _windows.pop(symbol, None)
        if len(_windows) >= _MEMO_SYMBOLS:
            del _windows[next(iter(_windows))]
        _windows[symbol] = window
    return window


def _measured(bars: tuple[Bar, ...]) -> _Window:
    high = np.array([float(bar.high) for bar in bars])
    low = np.array([float(bar.low) for bar in bars])
    close = np.array([float(bar.close) for bar in bars])
    up = np.diff(high, prepend=np.nan)
    down = -np.diff(low, prepend=np.nan)
    upper, middle, lower = bollinger(close)
    return _Window(
        bars=bars,
        high=high,
        low=low,
        close=close,
        true_range=true_range(high, low, close),
        plus_dm=np.where((up > down) & (up > 0), up, 0.0),
        minus_dm=np.where((down > up) & (down > 0), down, 0.0),
        band_width=(upper - lower) / middle,
    )


def _extended(window: _Window, bars: Sequence[Bar]) -> _Window | None:
    """The window of ``bars`` built on ``window`` if ``bars[:-1]`` ends its bars; else None.

    Those bars pass the checks: they are one symbol's (``window`` is remembered under the
    newest bar's symbol, and its bars passed), and at least as many as ``window``'s. The
    newest bar's measures are computed from the bars they depend on, by the same operations
    as ``_measured`` on the whole window (so to the same floats); the first values are reset
    to what they are at the start of any window.
    """
    bars = tuple(bars)
    dropped = len(window.bars) - (len(bars) - 1)
    if dropped not in (0, 1) or not all(map(operator.is_, bars[:-1], window.bars[dropped:])):
        return None
    newest = bars[-1]
    high, low, close = float(newest.high), float(newest.low), float(newest.close)
    previous_high, previous_low = float(window.high[-1]), float(window.low[-1])
    previous_close = float(window.close[-1])
    # indicators.true_range, and adx's up = diff(high), down = -diff(low) and DM.
    ranges = max(high - low, abs(high - previous_close), abs(low - previous_close))
    up, down = high - previous_high, -(low - previous_low)
    plus = up if up > down and up > 0 else 0.0
    minus = down if down > up and down > 0 else 0.0
    closes = _appended(window.close, dropped, close, 0, 0.0)
    # bollinger's last window: the mean and deviation of its closes, reduced on their own.
    last = closes[-BOLLINGER_PERIOD:]
    middle, deviation = _mean(last), float(last.std())
    upper, lower = middle + BOLLINGER_WIDTH * deviation, middle - BOLLINGER_WIDTH * deviation
    return _Window(
        bars=bars,
        high=_appended(window.high, dropped, high, 0, 0.0),
        low=_appended(window.low, dropped, low, 0, 0.0),
        close=closes,
        true_range=_appended(window.true_range, dropped, ranges, 1, math.nan),
        plus_dm=_appended(window.plus_dm, dropped, plus, 1, 0.0),
        minus_dm=_appended(window.minus_dm, dropped, minus, 1, 0.0),
        band_width=_appended(
            window.band_width, dropped, (upper - lower) / middle, BOLLINGER_PERIOD - 1, math.nan
        ),
    )


def _appended(
    column: FloatArray, dropped: int, value: float, leading: int, start: float
) -> FloatArray:
    """``column`` without its first ``dropped`` values, ``value`` appended, and its first
    ``leading`` values set to ``start`` (what a window has before its first bar)."""
    out = np.empty(len(column) - dropped + 1)
    out[:-1] = column[dropped:]
    out[-1] = value
    out[:leading] = start
    return out


# ---- numpy's and pandas' arithmetic, without their per-call overhead --------------------------


def _array_ratio(numerator: FloatArray, denominator: FloatArray, when_zero: float) -> FloatArray:
    """numerator / denominator, ``when_zero`` where the denominator is 0 and NaN where it is
    NaN, as in indicators (whose masks cost more than dividing everywhere but at 0)."""
    out = np.full(len(numerator), when_zero)
    np.divide(numerator, denominator, out=out, where=denominator != 0)  # x / NaN is NaN
    return out
