"""The market regime classifier on hand-built series and on real prices."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from trading_core.domain.errors import DataError
from trading_core.domain.market import Bar, Timeframe
from trading_core.marketdata.loaders import load_bars_frame
from trading_core.marketdata.regime import (
    HIGH_VOL_ATR_PERCENTILE,
    HIGH_VOL_ATR_RATIO,
    LOOKBACK_BARS,
    MIN_BARS,
    TREND_ADX,
    TREND_SLOPE,
    MarketRegime,
    RegimeReading,
    classify_regime,
)
from trading_core.marketdata.validation import validate_frame

START = datetime(2024, 1, 1, tzinfo=UTC)
BARS = 250


def _bars(
    log_closes: npt.ArrayLike, wick: npt.ArrayLike | float = 0.002, symbol: str = "TEST"
) -> list[Bar]:
    """Bars whose closes follow ``log_closes``; each opens at the previous close, with wicks."""
    closes = np.exp(np.asarray(log_closes, dtype=np.float64))
    wicks = np.broadcast_to(np.asarray(wick, dtype=np.float64), closes.shape)
    opens = np.concatenate(([closes[0]], closes[:-1]))
    bars = []
    for index, (open_, close, extra) in enumerate(zip(opens, closes, wicks, strict=True)):
        bars.append(
            Bar(
                symbol=symbol,
                timeframe=Timeframe.H1,
                timestamp=START + index * Timeframe.H1.duration,
                open=_price(open_),
                high=_price(max(open_, close) * math.exp(extra)),
                low=_price(min(open_, close) * math.exp(-extra)),
                close=_price(close),
                volume=Decimal(1),
            )
        )
    return bars


def _price(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal("0.000001"))


def _noise(seed: int, count: int = BARS) -> npt.NDArray[np.float64]:
    return np.random.default_rng(seed).standard_normal(count)


def _trend(drift: float, seed: int = 1) -> list[Bar]:
    steps = np.arange(BARS)
    return _bars(math.log(100) + drift * steps + 0.002 * _noise(seed))


def _input(reading: RegimeReading, name: str) -> float:
    value = reading.inputs[name]
    assert value is not None, f"{name} is undefined"
    return value


def _assert_inputs_finite(inputs: dict[str, float | None]) -> None:
    assert {"adx_14", "atr_percentile", "bb_width", "trend_slope"} <= set(inputs)
    assert all(value is None or math.isfinite(value) for value in inputs.values())


def test_a_clean_up_trend_is_trending_up() -> None:
    reading = classify_regime(_trend(0.003))

    assert reading.regime is MarketRegime.TRENDING_UP
    assert _input(reading, "adx_14") >= TREND_ADX
    assert _input(reading, "trend_slope") >= TREND_SLOPE
    assert 0.5 < reading.confidence <= 1
    _assert_inputs_finite(reading.inputs)


def test_a_clean_down_trend_is_trending_down() -> None:
    reading = classify_regime(_trend(-0.003))

    assert reading.regime is MarketRegime.TRENDING_DOWN
    assert _input(reading, "trend_slope") <= -TREND_SLOPE
    assert 0.5 < reading.confidence <= 1


def test_a_steeper_trend_is_read_with_more_confidence() -> None:
    gentle = classify_regime(_trend(0.0006))
    steep = classify_regime(_trend(0.003))

    assert gentle.regime is steep.regime is MarketRegime.TRENDING_UP
    assert gentle.confidence < steep.confidence


@pytest.mark.parametrize("period", [10, 20, 40])
def test_a_flat_oscillation_is_ranging(period: int) -> None:
    wave = 0.02 * np.sin(2 * np.pi * np.arange(BARS) / period)

    reading = classify_regime(_bars(math.log(100) + wave + 0.001 * _noise(2)))

    assert reading.regime is MarketRegime.RANGING
    assert abs(_input(reading, "trend_slope")) < TREND_SLOPE
    assert 0.5 <= reading.confidence <= 1


def test_a_volatility_burst_is_high_volatility() -> None:
    volatility = np.where(np.arange(BARS) >= BARS - 20, 0.02, 0.004)
    walk = math.log(100) + np.cumsum(volatility * _noise(3))

    reading = classify_regime(_bars(walk, wick=volatility / 2))

    assert reading.regime is MarketRegime.HIGH_VOLATILITY
    assert _input(reading, "atr_percentile") >= HIGH_VOL_ATR_PERCENTILE
    assert _input(reading, "atr_ratio") >= HIGH_VOL_ATR_RATIO


def test_a_burst_inside_a_trend_is_read_as_high_volatility_first() -> None:
    burst = np.arange(BARS) >= BARS - 15
    volatility = np.where(burst, 0.025, 0.002)
    log_closes = math.log(100) + 0.003 * np.arange(BARS) + np.cumsum(volatility * _noise(4))
    before = classify_regime(_bars(log_closes[:-15], wick=volatility[:-15] / 2))

    reading = classify_regime(_bars(log_closes, wick=volatility / 2))

    assert before.regime is MarketRegime.TRENDING_UP
    assert reading.regime is MarketRegime.HIGH_VOLATILITY


def test_a_single_wild_wick_is_not_a_volatility_regime() -> None:
    wicks = np.full(BARS, 0.002)
    wicks[-1] = 0.2  # one bar with a 20 % wick, closes as calm as ever
    log_closes = math.log(100) + 0.02 * np.sin(2 * np.pi * np.arange(BARS) / 20)

    reading = classify_regime(_bars(log_closes + 0.001 * _noise(5), wick=wicks))

    assert _input(reading, "atr_ratio") >= HIGH_VOL_ATR_RATIO  # the ATR alone would say so
    assert reading.regime is MarketRegime.RANGING


def test_constant_prices_are_ranging_with_undefined_ratios() -> None:
    reading = classify_regime(_bars(np.full(BARS, math.log(100)), wick=0.0))

    assert reading.regime is MarketRegime.RANGING
    assert reading.confidence == 1
    assert reading.inputs["atr_ratio"] is None
    assert reading.inputs["trend_r2"] is None
    _assert_inputs_finite(reading.inputs)


def test_too_few_bars_is_a_data_error_naming_the_minimum() -> None:
    bars = _trend(0.003)

    with pytest.raises(DataError, match=f"at least {MIN_BARS} bars, got {MIN_BARS - 1}"):
        classify_regime(bars[: MIN_BARS - 1])
    assert classify_regime(bars[:MIN_BARS]).bars_used == MIN_BARS


def test_only_the_latest_lookback_bars_count() -> None:
    count = LOOKBACK_BARS + 200
    # A crash first, then a calm climb: only the climb is inside the lookback.
    drift = np.where(np.arange(count) < 200, -0.01, 0.003)
    history = _bars(math.log(100) + np.cumsum(drift) + 0.002 * _noise(6, count))

    reading = classify_regime(history)

    assert reading.bars_used == LOOKBACK_BARS
    assert reading == classify_regime(history[-LOOKBACK_BARS:])
    assert reading.regime is MarketRegime.TRENDING_UP


def test_bars_of_several_symbols_are_refused() -> None:
    mixed: Sequence[Bar] = _trend(0.003)[:100] + _bars(np.zeros(100), symbol="OTHER")

    with pytest.raises(ValueError, match="one symbol"):
        classify_regime(mixed)


def test_real_monthly_bitcoin_prices_classify_with_finite_inputs(market_data_dir: Path) -> None:
    loaded = load_bars_frame(market_data_dir / "BTCUSD.csv")
    bars = validate_frame(
        loaded.frame, symbol=loaded.symbol, timeframe=loaded.timeframe, now=None
    ).bars()

    reading = classify_regime(bars)

    assert reading.regime in set(MarketRegime)
    assert reading.bars_used == min(len(bars), LOOKBACK_BARS)
    assert 0.5 <= reading.confidence <= 1
    assert all(value is not None for value in reading.inputs.values())
    _assert_inputs_finite(reading.inputs)
