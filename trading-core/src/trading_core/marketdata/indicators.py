"""Technical indicators: vectorised over a history, and incremental (O(1) per bar) for live bars.

Both implementations follow the same conventions, so they agree to rounding error:

- Bars are indexed from t = 0. Until an indicator is warm it is NaN (vectorised) or None
  (incremental); the first defined index of each is given below.
- SMA(n)_t = mean(close[t-n+1 .. t]); first at t = n-1.
- EMA(n): alpha = 2/(n+1), seeded with the SMA of the first n values:
  EMA_{n-1} = SMA(n)_{n-1}, then EMA_t = (1 - alpha) EMA_{t-1} + alpha x_t.
- Wilder smoothing(n): the same recursion with alpha = 1/n, seeded with the simple mean of its
  first n inputs.
- RSI(n): d_t = c_t - c_{t-1} for t >= 1; gains max(d, 0) and losses max(-d, 0) are Wilder
  smoothed (first at t = n); RSI = 100 G / (G + L), which equals 100 - 100 / (1 + G/L);
  RSI = 50 when G + L = 0 (a flat market is neither overbought nor oversold).
- True range TR_t = max(h_t - l_t, |h_t - c_{t-1}|, |l_t - c_{t-1}|) for t >= 1: bar 0 has no
  previous close and is skipped (as in TA-Lib). ATR(n) = Wilder(TR), first at t = n.
- MACD(12, 26, 9): line = EMA12 - EMA26 (first at t = 25); signal = EMA9 of the line seeded
  with the mean of its first 9 values (first at t = 33); histogram = line - signal.
- Bollinger(20, 2): middle = SMA20; upper/lower = middle +/- 2 sigma, sigma the population
  standard deviation (ddof = 0) of the same 20 closes; first at t = 19.
- ADX(n): up = h_t - h_{t-1}, down = l_{t-1} - l_t; +DM = up if up > down and up > 0 else 0,
  -DM = down if down > up and down > 0 else 0. TR, +DM, -DM are Wilder smoothed (first at
  t = n; smoothed TR is the ATR); +DI = 100 sm(+DM) / ATR, -DI alike (0 when ATR = 0);
  DX = 100 |+DI - -DI| / (+DI + -DI) (0 when both are 0); ADX = Wilder(DX) seeded with the
  mean of the first n DX values: first at t = 2n - 1 (27 for n = 14).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

INDICATOR_NAMES = (
    "sma_20",
    "sma_50",
    "sma_200",
    "ema_12",
    "ema_26",
    "rsi_14",
    "macd_line",
    "macd_signal",
    "macd_hist",
    "atr_14",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "adx_14",
)
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
RSI_PERIOD = ATR_PERIOD = ADX_PERIOD = 14
BOLLINGER_PERIOD, BOLLINGER_WIDTH = 20, 2.0
# Neutral RSI when nothing moved in the window.
FLAT_RSI = 50.0


# ---- vectorised -------------------------------------------------------------------------------


def compute_indicators(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike
) -> dict[str, FloatArray]:
    """Every indicator in ``INDICATOR_NAMES`` over a history; NaN until warm."""
    high_, low_, close_ = _as_series(high), _as_series(low), _as_series(close)
    if not len(high_) == len(low_) == len(close_):
        raise ValueError("high, low and close must have the same length")
    line, signal, histogram = macd(close_)
    upper, middle, lower = bollinger(close_)
    return {
        "sma_20": sma(close_, 20),
        "sma_50": sma(close_, 50),
        "sma_200": sma(close_, 200),
        "ema_12": ema(close_, 12),
        "ema_26": ema(close_, 26),
        "rsi_14": rsi(close_, RSI_PERIOD),
        "macd_line": line,
        "macd_signal": signal,
        "macd_hist": histogram,
        "atr_14": atr(high_, low_, close_, ATR_PERIOD),
        "bb_upper": upper,
        "bb_middle": middle,
        "bb_lower": lower,
        "adx_14": adx(high_, low_, close_, ADX_PERIOD),
    }


def sma(values: npt.ArrayLike, n: int) -> FloatArray:
    """Simple moving average of the last ``n`` values."""
    data = _as_series(values)
    out = _nans(len(data))
    if len(data) >= n:
        out[n - 1 :] = np.lib.stride_tricks.sliding_window_view(data, n).mean(axis=1)
    return out


def ema(values: npt.ArrayLike, n: int) -> FloatArray:
    """Exponential moving average, alpha 2/(n+1), seeded with the SMA of the first ``n``."""
    return _seeded_recursion(_as_series(values), n, 2.0 / (n + 1), start=0)


def wilder(values: npt.ArrayLike, n: int, *, start: int = 0) -> FloatArray:
    """Wilder smoothing (alpha 1/n) of ``values[start:]``, seeded with their first ``n`` mean."""
    return _seeded_recursion(_as_series(values), n, 1.0 / n, start=start)


def rsi(close: npt.ArrayLike, n: int = RSI_PERIOD) -> FloatArray:
    """Relative strength index with Wilder smoothing; 50 when nothing moved."""
    data = _as_series(close)
    change = np.diff(data, prepend=np.nan)
    gains = wilder(np.where(change > 0, change, 0.0), n, start=1)
    losses = wilder(np.where(change < 0, -change, 0.0), n, start=1)
    return _ratio(100.0 * gains, gains + losses, FLAT_RSI)


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> FloatArray:
    """True range; NaN at bar 0, which has no previous close."""
    high_, low_, close_ = _as_series(high), _as_series(low), _as_series(close)
    previous = np.concatenate(([np.nan], close_[:-1]))
    ranges = np.stack([high_ - low_, np.abs(high_ - previous), np.abs(low_ - previous)])
    out: FloatArray = ranges.max(axis=0)
    return out


def atr(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, n: int = ATR_PERIOD
) -> FloatArray:
    """Average true range (Wilder smoothing of the true range from bar 1)."""
    return wilder(true_range(high, low, close), n, start=1)


def macd(
    close: npt.ArrayLike,
    fast: int = MACD_FAST,
    slow: int = MACD_SLOW,
    signal: int = MACD_SIGNAL,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line, signal line and histogram."""
    data = _as_series(close)
    line = ema(data, fast) - ema(data, slow)
    signal_line = _seeded_recursion(line, signal, 2.0 / (signal + 1), start=max(fast, slow) - 1)
    return line, signal_line, line - signal_line


def bollinger(
    close: npt.ArrayLike, n: int = BOLLINGER_PERIOD, width: float = BOLLINGER_WIDTH
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Upper, middle and lower Bollinger bands (population standard deviation)."""
    data = _as_series(close)
    middle = sma(data, n)
    deviation = _nans(len(data))
    if len(data) >= n:
        deviation[n - 1 :] = np.lib.stride_tricks.sliding_window_view(data, n).std(axis=1)
    return middle + width * deviation, middle, middle - width * deviation


def adx(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, n: int = ADX_PERIOD
) -> FloatArray:
    """Average directional index (Wilder)."""
    high_, low_ = _as_series(high), _as_series(low)
    up = np.diff(high_, prepend=np.nan)
    down = -np.diff(low_, prepend=np.nan)
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    smoothed_range = atr(high_, low_, close, n)
    plus_di = _ratio(100.0 * wilder(plus_dm, n, start=1), smoothed_range, 0.0)
    minus_di = _ratio(100.0 * wilder(minus_dm, n, start=1), smoothed_range, 0.0)
    dx = _ratio(100.0 * np.abs(plus_di - minus_di), plus_di + minus_di, 0.0)
    return wilder(dx, n, start=n)


def _seeded_recursion(values: FloatArray, n: int, alpha: float, *, start: int) -> FloatArray:
    out = _nans(len(values))
    first = start + n - 1
    if len(values) <= first:
        return out
    seed = values[start : start + n].mean()
    tail = np.concatenate(([seed], values[start + n :]))
    # pandas runs the recursion y_t = (1 - alpha) y_{t-1} + alpha x_t in compiled code.
    smoothed = pd.Series(tail).ewm(alpha=alpha, adjust=False).mean()
    out[first:] = smoothed.to_numpy(dtype=np.float64)
    return out


def _ratio(numerator: FloatArray, denominator: FloatArray, when_zero: float) -> FloatArray:
    out = _nans(len(numerator))
    defined = ~np.isnan(denominator)
    nonzero = defined & (denominator != 0)
    out[nonzero] = numerator[nonzero] / denominator[nonzero]
    out[defined & (denominator == 0)] = when_zero
    return out


def _as_series(values: npt.ArrayLike) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"indicators need a one-dimensional series, got shape {array.shape}")
    return array


def _nans(length: int) -> FloatArray:
    return np.full(length, np.nan, dtype=np.float64)


# ---- incremental ------------------------------------------------------------------------------


class _SeededAverage:
    """y = (1 - alpha) y + alpha x, seeded with the plain mean of the first ``n`` inputs."""

    def __init__(self, n: int, alpha: float) -> None:
        self._n = n
        self._alpha = alpha
        self._seed: list[float] = []
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        if self.value is not None:
            self.value = (1.0 - self._alpha) * self.value + self._alpha * x
        else:
            self._seed.append(x)
            if len(self._seed) == self._n:
                self.value = math.fsum(self._seed) / self._n
                self._seed = []
        return self.value


class _RollingWindow:
    """The last ``n`` values with their running sum."""

    def __init__(self, n: int) -> None:
        self._n = n
        self.values: deque[float] = deque(maxlen=n)
        self._sum = 0.0
        self._updates = 0

    def update(self, x: float) -> float | None:
        """Add ``x``; return the window's mean once it holds ``n`` values."""
        if len(self.values) == self._n:
            self._sum -= self.values[0]
        self.values.append(x)
        self._sum += x
        self._updates += 1
        # Re-add from scratch once per window length: rounding drift stays bounded, O(1) amortised.
        if self._updates % self._n == 0:
            self._sum = math.fsum(self.values)
        return self._sum / self._n if len(self.values) == self._n else None


class IncrementalIndicators:
    """The same indicators as ``compute_indicators``, updated one closed bar at a time.

    Each update costs O(1) in the length of the history: the Bollinger deviation is recomputed
    over its 20 values (a running sum of squares loses all precision on flat prices).
    """

    def __init__(self) -> None:
        self._bars = 0
        self._previous: tuple[float, float, float] | None = None
        self._sma = {n: _RollingWindow(n) for n in (20, 50, 200)}
        self._fast = _SeededAverage(MACD_FAST, 2.0 / (MACD_FAST + 1))
        self._slow = _SeededAverage(MACD_SLOW, 2.0 / (MACD_SLOW + 1))
        self._signal = _SeededAverage(MACD_SIGNAL, 2.0 / (MACD_SIGNAL + 1))
        self._gain = _SeededAverage(RSI_PERIOD, 1.0 / RSI_PERIOD)
        self._loss = _SeededAverage(RSI_PERIOD, 1.0 / RSI_PERIOD)
        self._atr = _SeededAverage(ATR_PERIOD, 1.0 / ATR_PERIOD)
        self._plus_dm = _SeededAverage(ADX_PERIOD, 1.0 / ADX_PERIOD)
        self._minus_dm = _SeededAverage(ADX_PERIOD, 1.0 / ADX_PERIOD)
        self._adx = _SeededAverage(ADX_PERIOD, 1.0 / ADX_PERIOD)

    @property
    def bars_seen(self) -> int:
        return self._bars

    def update(self, high: float, low: float, close: float) -> dict[str, float | None]:
        """Feed one closed bar; return every indicator (None until warm)."""
        if not (math.isfinite(high) and math.isfinite(low) and math.isfinite(close)):
            raise ValueError(f"indicator inputs must be finite: {high=}, {low=}, {close=}")
        sma_20 = self._sma[20].update(close)
        sma_50 = self._sma[50].update(close)
        sma_200 = self._sma[200].update(close)
        fast, slow = self._fast.update(close), self._slow.update(close)
        line = fast - slow if fast is not None and slow is not None else None
        signal = self._signal.update(line) if line is not None else None
        rsi_value, atr_value, adx_value = self._update_directional(high, low, close)
        upper, lower = self._bollinger_bands(sma_20)
        self._bars += 1
        self._previous = (high, low, close)
        return {
            "sma_20": sma_20,
            "sma_50": sma_50,
            "sma_200": sma_200,
            "ema_12": fast,
            "ema_26": slow,
            "rsi_14": rsi_value,
            "macd_line": line,
            "macd_signal": signal,
            "macd_hist": line - signal if line is not None and signal is not None else None,
            "atr_14": atr_value,
            "bb_upper": upper,
            "bb_middle": sma_20,
            "bb_lower": lower,
            "adx_14": adx_value,
        }

    def _update_directional(
        self, high: float, low: float, close: float
    ) -> tuple[float | None, float | None, float | None]:
        if self._previous is None:
            return None, None, None
        previous_high, previous_low, previous_close = self._previous
        change = close - previous_close
        gain = self._gain.update(max(change, 0.0))
        loss = self._loss.update(max(-change, 0.0))
        rsi_value = None
        if gain is not None and loss is not None:
            rsi_value = _scalar_ratio(100.0 * gain, gain + loss, FLAT_RSI)
        true_range_ = max(high - low, abs(high - previous_close), abs(low - previous_close))
        up, down = high - previous_high, previous_low - low
        atr_value = self._atr.update(true_range_)
        plus = self._plus_dm.update(up if up > down and up > 0 else 0.0)
        minus = self._minus_dm.update(down if down > up and down > 0 else 0.0)
        if atr_value is None or plus is None or minus is None:
            return rsi_value, atr_value, None
        plus_di = _scalar_ratio(100.0 * plus, atr_value, 0.0)
        minus_di = _scalar_ratio(100.0 * minus, atr_value, 0.0)
        dx = _scalar_ratio(100.0 * abs(plus_di - minus_di), plus_di + minus_di, 0.0)
        return rsi_value, atr_value, self._adx.update(dx)

    def _bollinger_bands(self, middle: float | None) -> tuple[float | None, float | None]:
        if middle is None:
            return None, None
        window = self._sma[BOLLINGER_PERIOD].values
        mean = math.fsum(window) / BOLLINGER_PERIOD
        deviation = math.sqrt(math.fsum((x - mean) ** 2 for x in window) / BOLLINGER_PERIOD)
        return middle + BOLLINGER_WIDTH * deviation, middle - BOLLINGER_WIDTH * deviation


def _scalar_ratio(numerator: float, denominator: float, when_zero: float) -> float:
    return numerator / denominator if denominator != 0 else when_zero
