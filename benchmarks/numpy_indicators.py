"""The indicator formulas of ``trading_core.marketdata.indicators`` in plain numpy: the floor.

Same definitions (see that module's docstring), written for speed rather than clarity, without
pandas: moving sums by ``cumsum`` (shifted by the first close so the differences keep their
digits), and the exponential recursions y_t = (1 - a) y_{t-1} + a x_t evaluated a block at a time
as one matrix product (the recursion unrolled over the block) with a short loop carrying the
state from block to block. ``indicators_numpy`` must agree with ``compute_indicators``; the
benchmark asserts it before timing anything.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

BLOCK = 64
"""Recursion block length: powers of (1 - a) up to BLOCK stay far from underflow for a <= 0.2."""


def indicators_numpy(high: FloatArray, low: FloatArray, close: FloatArray) -> dict[str, FloatArray]:
    """Every indicator of ``compute_indicators``, NaN until warm, from float64 arrays."""
    size = len(close)
    sma_20, deviation = _mean_and_std(close, 20)
    line_fast = _seeded(close, 12, 2 / 13, 0)
    line_slow = _seeded(close, 26, 2 / 27, 0)
    line = line_fast - line_slow
    signal = _seeded(line, 9, 2 / 10, 25)
    change = np.empty(size)
    change[0] = np.nan
    np.subtract(close[1:], close[:-1], out=change[1:])
    gains = _seeded(np.maximum(change, 0.0), 14, 1 / 14, 1)
    losses = _seeded(np.maximum(-change, 0.0), 14, 1 / 14, 1)
    previous = np.empty(size)
    previous[0] = np.nan
    previous[1:] = close[:-1]
    true_range = np.maximum(high - low, np.maximum(np.abs(high - previous), np.abs(low - previous)))
    atr = _seeded(true_range, 14, 1 / 14, 1)
    up = np.empty(size)
    down = np.empty(size)
    up[0] = down[0] = np.nan
    np.subtract(high[1:], high[:-1], out=up[1:])
    np.subtract(low[:-1], low[1:], out=down[1:])
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    plus_di = _ratio(100 * _seeded(plus_dm, 14, 1 / 14, 1), atr, 0.0)
    minus_di = _ratio(100 * _seeded(minus_dm, 14, 1 / 14, 1), atr, 0.0)
    dx = _ratio(100 * np.abs(plus_di - minus_di), plus_di + minus_di, 0.0)
    return {
        "sma_20": sma_20,
        "sma_50": _mean_and_std(close, 50, with_std=False)[0],
        "sma_200": _mean_and_std(close, 200, with_std=False)[0],
        "ema_12": line_fast,
        "ema_26": line_slow,
        "rsi_14": _ratio(100 * gains, gains + losses, 50.0),
        "macd_line": line,
        "macd_signal": signal,
        "macd_hist": line - signal,
        "atr_14": atr,
        "bb_upper": sma_20 + 2 * deviation,
        "bb_middle": sma_20,
        "bb_lower": sma_20 - 2 * deviation,
        "adx_14": _seeded(dx, 14, 1 / 14, 14),
    }


def _mean_and_std(
    values: FloatArray, n: int, *, with_std: bool = True
) -> tuple[FloatArray, FloatArray]:
    """Rolling mean and population deviation over ``n`` values, from running sums."""
    mean = np.full(len(values), np.nan)
    std = np.full(len(values), np.nan)
    if len(values) < n:
        return mean, std
    shifted = values - values[0]
    sums = np.concatenate(([0.0], np.cumsum(shifted)))
    window_mean = (sums[n:] - sums[:-n]) / n
    mean[n - 1 :] = window_mean + values[0]
    if with_std:
        squares = np.concatenate(([0.0], np.cumsum(shifted * shifted)))
        variance = (squares[n:] - squares[:-n]) / n - window_mean * window_mean
        std[n - 1 :] = np.sqrt(np.maximum(variance, 0.0))
    return mean, std


def _seeded(values: FloatArray, n: int, alpha: float, start: int) -> FloatArray:
    """y seeded with the mean of values[start:start+n] at index start+n-1, then the recursion."""
    out = np.full(len(values), np.nan)
    first = start + n - 1
    if len(values) <= first:
        return out
    out[first] = values[start : start + n].mean()
    out[first + 1 :] = _recursion(values[first + 1 :], alpha, out[first])
    return out


def _recursion(x: FloatArray, alpha: float, initial: float) -> FloatArray:
    """y_k = (1 - alpha) y_{k-1} + alpha x_k for every k, with y_{-1} = ``initial``."""
    size = len(x)
    if size == 0:
        return x.copy()
    decay = 1.0 - alpha
    blocks = -(-size // BLOCK)
    padded = np.zeros(blocks * BLOCK)
    padded[:size] = x
    powers = decay ** np.arange(BLOCK + 1)
    lag = np.arange(BLOCK)[:, None] - np.arange(BLOCK)[None, :]
    # weights[j, i] = alpha (1 - alpha)^(j - i) for i <= j: the recursion unrolled in a block.
    weights = np.where(lag >= 0, alpha * powers[np.clip(lag, 0, BLOCK)], 0.0)
    local = padded.reshape(blocks, BLOCK) @ weights.T
    carried = np.empty(blocks)
    state = initial
    for block in range(blocks):
        carried[block] = state
        state = powers[BLOCK] * state + local[block, -1]
    result = local + carried[:, None] * powers[1:][None, :]
    return result.reshape(-1)[:size]


def _ratio(numerator: FloatArray, denominator: FloatArray, when_zero: float) -> FloatArray:
    out = np.full(len(numerator), np.nan)
    defined = ~np.isnan(denominator)
    nonzero = defined & (denominator != 0)
    out[nonzero] = numerator[nonzero] / denominator[nonzero]
    out[defined & (denominator == 0)] = when_zero
    return out
