"""Which kind of market a symbol is in: trending up or down, ranging, or unusually volatile."""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

import numpy as np

from trading_core.domain.base import Frozen
from trading_core.domain.errors import DataError
from trading_core.domain.market import Bar
from trading_core.marketdata.indicators import ADX_PERIOD, FloatArray, adx, atr, bollinger

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
    if len({bar.symbol for bar in bars}) > 1:
        raise ValueError("classify_regime needs the bars of one symbol")
    if len(bars) < MIN_BARS:
        raise DataError(f"a market regime needs at least {MIN_BARS} bars, got {len(bars)}")
    used = bars[-LOOKBACK_BARS:]
    high = np.array([float(bar.high) for bar in used])
    low = np.array([float(bar.low) for bar in used])
    close = np.array([float(bar.close) for bar in used])
    inputs = _inputs(high, low, close)
    regime, confidence = _decide(inputs)
    return RegimeReading(regime=regime, confidence=confidence, inputs=inputs, bars_used=len(used))


def _inputs(high: FloatArray, low: FloatArray, close: FloatArray) -> dict[str, float | None]:
    atr_pct = _defined(atr(high, low, close) / close)[-VOLATILITY_HISTORY:]
    upper, middle, lower = bollinger(close)
    bb_width = _defined((upper - lower) / middle)[-VOLATILITY_HISTORY:]
    current = float(atr_pct[-1])
    log_slope, r2 = _log_fit(close[-TREND_WINDOW:])
    return {
        f"adx_{ADX_PERIOD}": float(adx(high, low, close)[-1]),
        "atr_pct": current,
        "atr_percentile": _percentile_rank(atr_pct),
        "atr_ratio": _ratio(current, float(np.median(atr_pct))),
        "bb_width": float(bb_width[-1]),
        "bb_width_ratio": _ratio(float(bb_width[-1]), float(np.median(bb_width))),
        "log_slope": log_slope,
        "trend_slope": _ratio(log_slope, current),
        "trend_r2": r2,
    }


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
    if np.ptp(y) == 0:  # tested exactly: the mean of equal floats can be off in the last bit
        return 0.0, None
    x = np.arange(len(y), dtype=np.float64)
    slope, intercept = np.polyfit(x, y, 1)
    total = float(np.sum((y - y.mean()) ** 2))
    residual = float(np.sum((y - (slope * x + intercept)) ** 2))
    return float(slope), 1.0 - residual / total


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
