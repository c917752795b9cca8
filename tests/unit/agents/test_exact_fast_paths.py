"""The agents' and the regime's fast paths give the indicators module's floats, bit for bit.

Proposed for tests/unit/agents/ (the helper that wrote them owns no test files). They guard
the re-implementations against a change of the indicators module or of numpy/pandas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from trading_agents.alphas._indicators import (
    adx_now,
    average_true_range,
    band_now,
    band_widths,
    rsi_now,
)
from trading_agents.alphas._maths import array_mean, array_median, wilder, wilder_last
from trading_agents.series import BarSeries, series_of
from trading_core.domain.market import Bar
from trading_core.marketdata import indicators
from trading_core.marketdata.regime import classify_regime

from .conftest import closes_to_bars, random_walk

FloatArray = npt.NDArray[np.float64]


def same(expected: FloatArray | float, got: FloatArray | float) -> bool:
    """Equal floats, NaN where NaN, and the same sign of zero."""
    left, right = np.atleast_1d(np.asarray(expected)), np.atleast_1d(np.asarray(got))
    return bool(
        left.shape == right.shape
        and np.array_equal(left, right, equal_nan=True)
        and np.array_equal(np.signbit(left), np.signbit(right))
    )


def inputs(seed: int) -> list[FloatArray]:
    """Series with ties, zeros, repeated values and NaNs, of lengths around the windows."""
    rng = np.random.default_rng(seed)
    out = []
    for kind in range(5):
        values = rng.normal(size=int(rng.integers(0, 320))) * 10 ** rng.uniform(-8, 4)
        if kind == 1:
            values = np.round(values, 1)
        if kind == 2:
            values[rng.random(len(values)) < 0.5] = 0.0
        if kind == 3:
            values[rng.random(len(values)) < 0.05] = np.nan
        if kind == 4:
            values[:] = 3.7
        out.append(values)
    return out


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize(("n", "start"), [(14, 1), (14, 14), (2, 0), (9, 3), (20, 1)])
def test_wilder_is_the_indicators_recursion(seed: int, n: int, start: int) -> None:
    for values in inputs(seed):
        expected = indicators.wilder(values, n, start=start)
        assert same(expected, wilder(values, n, start=start))
        if len(values):
            assert same(expected[-1], wilder_last(values, n, start=start))


@pytest.mark.parametrize("seed", range(40))
def test_array_mean_and_median_are_numpys(seed: int) -> None:
    for values in inputs(seed):
        if len(values):
            assert same(np.mean(values), array_mean(values))
            assert same(np.median(values), array_median(values))


def walk_bars(seed: int, length: int = 320) -> list[Bar]:
    volumes = np.random.default_rng(seed).uniform(0.0, 200.0, length)
    return closes_to_bars(random_walk(length, seed, 0.01), list(volumes), wick=0.003)


@pytest.mark.parametrize("seed", range(10))
def test_series_indicators_are_the_indicators_modules(seed: int) -> None:
    series = BarSeries.from_bars(walk_bars(seed))
    high, low, close = series.high, series.low, series.close

    assert same(indicators.atr(high, low, close, 14), average_true_range(series, 14))
    assert same(indicators.atr(high, low, close, 10), average_true_range(series, 10))
    assert same(indicators.adx(high, low, close, 14)[-1], adx_now(series, 14))
    assert same(indicators.rsi(close, 14)[-1], rsi_now(series, 14))
    upper, middle, lower = indicators.bollinger(close, 20, width=1.0)
    assert same(middle[-1], band_now(series, 20)[0])
    assert same(upper[-1] - middle[-1], (middle[-1] + 1.0 * band_now(series, 20)[1]) - middle[-1])
    upper, middle, lower = indicators.bollinger(close, 20)
    assert same(((upper - lower) / middle)[-50:], band_widths(series, 20, 50))


def sliding_tuples(bars: Sequence[Bar], size: int) -> list[tuple[Bar, ...]]:
    """The tuples an orchestrator passes bar after bar: growing, then sliding by one."""
    return [tuple(bars[max(0, end - size) : end]) for end in range(1, len(bars) + 1)]


@pytest.mark.parametrize("seed", range(3))
def test_series_of_successive_tuples_equals_a_fresh_conversion(seed: int) -> None:
    for window in sliding_tuples(walk_bars(seed, 120), 50):
        remembered, fresh = series_of(window), BarSeries.from_bars(window)
        for name in ("open", "high", "low", "close", "volume"):
            assert same(getattr(fresh, name), getattr(remembered, name))


@pytest.mark.parametrize("seed", range(3))
def test_regime_of_successive_tuples_equals_a_fresh_reading(seed: int) -> None:
    for window in sliding_tuples(walk_bars(seed, 420), 300)[60:]:
        remembered, fresh = classify_regime(window), classify_regime(list(window))
        assert repr(remembered.model_dump()) == repr(fresh.model_dump())
