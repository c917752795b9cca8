"""Indicators: hand-worked values, independent loops, and vectorised == incremental."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from trading_core.marketdata.indicators import (
    INDICATOR_NAMES,
    IncrementalIndicators,
    atr,
    bollinger,
    compute_indicators,
    ema,
    macd,
    rsi,
    sma,
)

FloatArray = npt.NDArray[np.float64]
NAN = float("nan")

# first index at which each indicator is defined (documented in the module docstring)
FIRST_DEFINED = {
    "sma_20": 19,
    "sma_50": 49,
    "sma_200": 199,
    "ema_12": 11,
    "ema_26": 25,
    "rsi_14": 14,
    "macd_line": 25,
    "macd_signal": 33,
    "macd_hist": 33,
    "atr_14": 14,
    "bb_upper": 19,
    "bb_middle": 19,
    "bb_lower": 19,
    "adx_14": 27,
}


def _series(market_data_dir: Path, name: str) -> tuple[FloatArray, FloatArray, FloatArray]:
    frame = pd.read_feather(market_data_dir / name) if name.endswith("feather") else None
    if frame is None:
        frame = pd.read_csv(market_data_dir / name).rename(columns=str.lower)
    return (
        frame["high"].to_numpy(dtype=np.float64),
        frame["low"].to_numpy(dtype=np.float64),
        frame["close"].to_numpy(dtype=np.float64),
    )


def _as_floats(values: list[Fraction | float]) -> list[float]:
    return [float(value) for value in values]


# ---- worked by hand ---------------------------------------------------------------------------


def test_sma_of_three_by_hand() -> None:
    result = sma([1.0, 2.0, 6.0, 4.0, 5.0], 3)

    np.testing.assert_allclose(result, [NAN, NAN, 3.0, 4.0, 5.0], rtol=0, atol=1e-12)


def test_ema_of_three_is_seeded_with_the_sma_then_halves_the_distance() -> None:
    # alpha = 2 / (3 + 1) = 0.5; seed = mean(2, 4, 6) = 4
    # t3: 4 + 0.5 (8 - 4) = 6; t4: 6 + 0.5 (4 - 6) = 5; t5: 5 + 0.5 (2 - 5) = 3.5
    result = ema([2.0, 4.0, 6.0, 8.0, 4.0, 2.0], 3)

    np.testing.assert_allclose(result, [NAN, NAN, 4.0, 6.0, 5.0, 3.5], rtol=0, atol=1e-12)


def test_rsi_of_three_by_hand() -> None:
    # changes: +1 +1 -1 +2 -1 0
    # t3: G = (1 + 1 + 0) / 3 = 2/3, L = (0 + 0 + 1) / 3 = 1/3     -> 100 G / (G + L)
    # t4: G = (2/3 * 2 + 2) / 3 = 10/9, L = (1/3 * 2 + 0) / 3 = 2/9
    # t5: G = (10/9 * 2 + 0) / 3 = 20/27, L = (2/9 * 2 + 1) / 3 = 13/27
    # t6: G = (20/27 * 2 + 0) / 3 = 40/81, L = (13/27 * 2 + 0) / 3 = 26/81
    expected: list[Fraction | float] = [
        NAN,
        NAN,
        NAN,
        Fraction(100 * 2, 3),
        Fraction(100 * 10, 12),
        Fraction(100 * 20, 33),
        Fraction(100 * 40, 66),
    ]

    result = rsi([10.0, 11.0, 12.0, 11.0, 13.0, 12.0, 12.0], 3)

    np.testing.assert_allclose(result, _as_floats(expected), rtol=0, atol=1e-9)


def test_rsi_is_100_when_only_rising_and_50_when_flat() -> None:
    assert rsi(np.arange(1.0, 20.0), 14)[-1] == 100.0
    assert rsi(np.full(20, 7.0), 14)[-1] == 50.0


def test_atr_of_three_by_hand() -> None:
    high = [10.0, 11.0, 12.0, 11.0, 9.0, 14.0]
    low = [8.0, 9.0, 10.0, 7.0, 8.0, 9.0]
    close = [9.0, 10.0, 11.0, 8.0, 8.5, 13.0]
    # true ranges from bar 1: 2, 2, 4 (11 - 7), 1, 5.5 (14 - 8.5)
    # t3: (2 + 2 + 4) / 3 = 8/3; t4: (8/3 * 2 + 1) / 3 = 19/9; t5: (19/9 * 2 + 5.5) / 3
    expected: list[Fraction | float] = [
        NAN,
        NAN,
        NAN,
        Fraction(8, 3),
        Fraction(19, 9),
        (Fraction(19, 9) * 2 + Fraction(11, 2)) / 3,
    ]

    np.testing.assert_allclose(atr(high, low, close, 3), _as_floats(expected), rtol=0, atol=1e-12)


def test_bollinger_uses_the_population_standard_deviation() -> None:
    # window 1, 2, 3: mean 2, variance (1 + 0 + 1) / 3
    upper, middle, lower = bollinger([1.0, 2.0, 3.0], 3, 2.0)

    assert middle[-1] == pytest.approx(2.0)
    assert upper[-1] == pytest.approx(2.0 + 2.0 * (2.0 / 3.0) ** 0.5, abs=1e-12)
    assert lower[-1] == pytest.approx(2.0 - 2.0 * (2.0 / 3.0) ** 0.5, abs=1e-12)


def test_macd_by_hand_with_small_periods() -> None:
    # EMA2 (alpha 2/3): 1.5, 19/6, 115/18, 691/54 from t1; EMA3 (alpha 1/2): 7/3, 31/6, 127/12
    # line from t2: 5/6, 11/9, 239/108; signal(2, alpha 2/3) seeded mean(5/6, 11/9) = 37/36 at t3
    # then t4: 37/36 / 3 + 2/3 * 239/108 = 589/324
    line, signal, histogram = macd([1.0, 2.0, 4.0, 8.0, 16.0], fast=2, slow=3, signal=2)

    np.testing.assert_allclose(
        line,
        _as_floats([NAN, NAN, Fraction(5, 6), Fraction(11, 9), Fraction(239, 108)]),
        rtol=0,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        signal, _as_floats([NAN, NAN, NAN, Fraction(37, 36), Fraction(589, 324)]), atol=1e-12
    )
    assert histogram[-1] == pytest.approx(float(Fraction(239, 108) - Fraction(589, 324)))


# ---- independent loops -------------------------------------------------------------------------


def _loop_rsi(close: FloatArray, n: int) -> list[float]:
    out = [NAN] * len(close)
    gains = [max(close[i] - close[i - 1], 0.0) for i in range(1, len(close))]
    losses = [max(close[i - 1] - close[i], 0.0) for i in range(1, len(close))]
    average_gain = sum(gains[:n]) / n
    average_loss = sum(losses[:n]) / n
    for index in range(n, len(close)):
        if index > n:
            average_gain = (average_gain * (n - 1) + gains[index - 1]) / n
            average_loss = (average_loss * (n - 1) + losses[index - 1]) / n
        if average_loss == 0:
            out[index] = 100.0 if average_gain > 0 else 50.0
        else:
            out[index] = 100.0 - 100.0 / (1.0 + average_gain / average_loss)
    return out


def _loop_true_ranges(high: FloatArray, low: FloatArray, close: FloatArray) -> list[float]:
    return [
        max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        for i in range(1, len(close))
    ]


def _loop_atr(high: FloatArray, low: FloatArray, close: FloatArray, n: int) -> list[float]:
    ranges = _loop_true_ranges(high, low, close)
    out = [NAN] * len(close)
    value = sum(ranges[:n]) / n
    out[n] = value
    for index in range(n + 1, len(close)):
        value = (value * (n - 1) + ranges[index - 1]) / n
        out[index] = value
    return out


def _loop_adx(high: FloatArray, low: FloatArray, close: FloatArray, n: int) -> list[float]:
    """Wilder's original bookkeeping: running sums, S = S - S/n + x."""
    ranges = _loop_true_ranges(high, low, close)
    plus, minus = [], []
    for i in range(1, len(close)):
        up, down = high[i] - high[i - 1], low[i - 1] - low[i]
        plus.append(up if up > down and up > 0 else 0.0)
        minus.append(down if down > up and down > 0 else 0.0)
    out = [NAN] * len(close)
    tr_sum, plus_sum, minus_sum = sum(ranges[:n]), sum(plus[:n]), sum(minus[:n])
    dxs: list[float] = []
    adx_value = NAN
    for index in range(n, len(close)):
        if index > n:
            tr_sum = tr_sum - tr_sum / n + ranges[index - 1]
            plus_sum = plus_sum - plus_sum / n + plus[index - 1]
            minus_sum = minus_sum - minus_sum / n + minus[index - 1]
        plus_di = 100 * plus_sum / tr_sum if tr_sum else 0.0
        minus_di = 100 * minus_sum / tr_sum if tr_sum else 0.0
        total = plus_di + minus_di
        dxs.append(100 * abs(plus_di - minus_di) / total if total else 0.0)
        if len(dxs) == n:
            adx_value = sum(dxs) / n
        elif len(dxs) > n:
            adx_value = (adx_value * (n - 1) + dxs[-1]) / n
        out[index] = adx_value
    return out


def test_rsi_atr_and_adx_match_straightforward_loops_on_real_data(market_data_dir: Path) -> None:
    high, low, close = _series(market_data_dir, "UNITTEST_BTC-5m.feather")

    computed = compute_indicators(high, low, close)

    np.testing.assert_allclose(computed["rsi_14"], _loop_rsi(close, 14), rtol=0, atol=1e-9)
    np.testing.assert_allclose(computed["atr_14"], _loop_atr(high, low, close, 14), atol=1e-12)
    np.testing.assert_allclose(computed["adx_14"], _loop_adx(high, low, close, 14), atol=1e-9)


# ---- the two implementations ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "tolerance"),
    [("UNITTEST_BTC-5m.feather", 1e-9), ("GOOG.csv", 1e-9)],
)
def test_incremental_and_vectorised_agree_on_every_bar_and_indicator(
    market_data_dir: Path, file_name: str, tolerance: float
) -> None:
    high, low, close = _series(market_data_dir, file_name)
    vectorised = compute_indicators(high, low, close)
    incremental = IncrementalIndicators()

    rows = [incremental.update(*bar) for bar in zip(high, low, close, strict=True)]

    assert incremental.bars_seen == len(close)
    for name in INDICATOR_NAMES:
        streamed = np.array([NAN if row[name] is None else row[name] for row in rows])
        assert np.array_equal(np.isnan(streamed), np.isnan(vectorised[name])), name
        defined = ~np.isnan(streamed)
        worst = float(np.max(np.abs(streamed[defined] - vectorised[name][defined])))
        assert worst <= tolerance, f"{name} differs by {worst}"


def test_each_indicator_becomes_defined_at_its_documented_bar(market_data_dir: Path) -> None:
    high, low, close = _series(market_data_dir, "UNITTEST_BTC-5m.feather")

    computed = compute_indicators(high, low, close)

    assert set(computed) == set(INDICATOR_NAMES) == set(FIRST_DEFINED)
    for name, first in FIRST_DEFINED.items():
        defined = np.flatnonzero(~np.isnan(computed[name]))
        assert defined[0] == first, name
        assert len(defined) == len(close) - first, name


def test_a_short_history_is_all_warming_up() -> None:
    close = np.linspace(10.0, 11.0, 10)

    computed = compute_indicators(close + 0.1, close - 0.1, close)

    assert np.isnan(computed["sma_20"]).all()
    assert np.isnan(computed["adx_14"]).all()
    assert np.isnan(computed["ema_12"]).all()  # needs 12 bars
    assert not np.isnan(sma(close, 5)[4:]).any()


def test_bands_bracket_the_middle_and_rsi_stays_in_range(market_data_dir: Path) -> None:
    high, low, close = _series(market_data_dir, "ETH_BTC-5m.feather")

    computed = compute_indicators(high, low, close)

    defined = ~np.isnan(computed["bb_middle"])
    assert (computed["bb_upper"][defined] >= computed["bb_middle"][defined]).all()
    assert (computed["bb_lower"][defined] <= computed["bb_middle"][defined]).all()
    rsi_values = computed["rsi_14"][~np.isnan(computed["rsi_14"])]
    assert ((rsi_values >= 0) & (rsi_values <= 100)).all()
    adx_values = computed["adx_14"][~np.isnan(computed["adx_14"])]
    assert ((adx_values >= 0) & (adx_values <= 100)).all()


def test_mismatched_lengths_and_non_finite_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        compute_indicators([1.0, 2.0], [1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        IncrementalIndicators().update(1.0, float("nan"), 1.0)
