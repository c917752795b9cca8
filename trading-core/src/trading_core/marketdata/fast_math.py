"""Exact, fast versions of numpy/pandas reductions on short windows (regime and alphas).

Each function returns bit for bit what the library call it names returns (the tests in
tests/unit/agents/test_exact_fast_paths.py check that on random and real data) without the set-up
cost that dominates a few hundred values: pandas' ``ewm`` for Wilder smoothing, numpy's Python
layers for mean and median. The exactness rests on numpy 2.4.6 and pandas 3.1.1's arithmetic
(both pinned); re-run those tests after upgrading either.
"""

from __future__ import annotations

import math

import numpy as np

from trading_core.marketdata import indicators
from trading_core.marketdata.indicators import FloatArray


def array_mean(values: FloatArray) -> float:
    """``float(np.mean(values))`` of a 1-d array: numpy's own reduction divided by the count,
    without the Python layers around it (NaN, and no warning, when empty)."""
    if len(values) == 0:
        return math.nan
    return float(np.add.reduce(values)) / len(values)


def array_median(values: FloatArray) -> float:
    """``float(np.median(values))`` of a 1-d array: the same partition and the same mean of
    the middle value(s), NaN when there is a NaN (or no value), without the generic
    machinery."""
    size = len(values)
    if size == 0:
        return math.nan
    half = size // 2
    middle = slice(half - 1, half + 1) if size % 2 == 0 else slice(half, half + 1)
    part = np.partition(values, [middle.start, middle.stop - 1, -1])
    if np.isnan(part[-1]):
        return math.nan
    return array_mean(part[middle])


def wilder(values: FloatArray, n: int, *, start: int = 0) -> FloatArray:
    """``indicators.wilder(values, n, start=start)``, bit for bit, at a fraction of its cost.

    The indicators module runs the recursion through pandas (``ewm(adjust=False).mean()``),
    whose set-up costs far more than the ~300 steps of an agent's window; ``_recursion``
    repeats pandas' arithmetic operation for operation, so every value is the same float.
    Inputs with a NaN (pandas then carries a decayed weight across it) are left to the
    indicators module.
    """
    out = np.full(len(values), np.nan)
    first = start + n - 1
    if len(values) <= first:
        return out
    seed = array_mean(values[start : start + n])
    smoothed = _recursion(seed, values[start + n :].tolist(), n, keep_all=True)
    if math.isnan(smoothed[-1]):  # a NaN input makes every later value NaN: see _recursion
        return indicators.wilder(values, n, start=start)
    out[first:] = smoothed
    return out


def wilder_last(values: FloatArray, n: int, *, start: int = 0) -> float:
    """The last value of ``wilder(values, n, start=start)`` (NaN while not warm)."""
    if len(values) <= start + n - 1:
        return math.nan
    seed = array_mean(values[start : start + n])
    last = _recursion(seed, values[start + n :].tolist(), n, keep_all=False)[-1]
    if math.isnan(last):
        return float(indicators.wilder(values, n, start=start)[-1])
    return last


def _recursion(seed: float, inputs: list[float], n: int, *, keep_all: bool) -> list[float]:
    """pandas' ``ewm(alpha=1/n, adjust=False).mean()`` of ``[seed, *inputs]`` if there is no NaN
    among them; otherwise the values end in NaN (w != NaN, and NaN != x, so w stays NaN once it
    is), where pandas carries a decayed weight across NaNs: callers then ask pandas.

    pandas turns alpha into a centre of mass, com = (1 - alpha) / alpha, and back, a =
    1 / (1 + com), which may differ from alpha in the last bit; each step is then
    w = (f * w + a * x) / (f + a) with f = 1 - a, skipped when w == x (pandas' guard against
    drift on constant inputs). Python floats are IEEE doubles like pandas' C doubles, and
    the operations come in the same order: the results are the same. (Dividing by a total
    of exactly 1.0, as for n = 14, changes nothing, so that division is left out.)
    """
    alpha = 1.0 / n
    weight = 1.0 / (1.0 + (1.0 - alpha) / alpha)
    decay = 1.0 - weight
    total = decay + weight
    value = seed
    out = [value]
    append = out.append
    if total != 1.0:
        for x in inputs:
            if value != x:
                value = (decay * value + weight * x) / total
            append(value)
    elif keep_all:
        for x in inputs:
            if value != x:
                value = decay * value + weight * x
            append(value)
    else:
        for x in inputs:
            if value != x:
                value = decay * value + weight * x
        out[0] = value
    return out
