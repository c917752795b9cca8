"""Builders for agent and alpha tests: hand-made bars, contexts built as the orchestrator does,
and the real BTCUSD monthly bars."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from trading_agents.series import BarSeries
from trading_core.domain.errors import DataError
from trading_core.domain.market import Bar, Timeframe
from trading_core.marketdata.indicators import compute_indicators
from trading_core.marketdata.loaders import load_bars_frame
from trading_core.marketdata.regime import MIN_BARS, classify_regime
from trading_core.marketdata.validation import validate_frame
from trading_core.ports.agent import AgentContext

START = datetime(2024, 1, 1, tzinfo=UTC)
HISTORY = 250
"""Bars an orchestrator keeps per symbol (``orchestrator.pipeline.HISTORY_BARS``)."""
_PROJECT_ROOT = Path(__file__).resolve().parents[3]

Candle = tuple[float, float, float, float]
"""(open, high, low, close)."""
BarsBuilder = Callable[..., list[Bar]]
ContextBuilder = Callable[..., AgentContext]


def candles_to_bars(
    candles: Sequence[Candle], volumes: Sequence[float] | float = 100.0, symbol: str = "TEST"
) -> list[Bar]:
    """Hourly bars from explicit candles, one hour apart from ``START``."""
    sizes = np.broadcast_to(np.asarray(volumes, dtype=np.float64), (len(candles),))
    return [
        Bar(
            symbol=symbol,
            timeframe=Timeframe.H1,
            timestamp=START + index * Timeframe.H1.duration,
            open=_price(open_),
            high=_price(high),
            low=_price(low),
            close=_price(close),
            volume=_price(volume),
        )
        for index, ((open_, high, low, close), volume) in enumerate(
            zip(candles, sizes, strict=True)
        )
    ]


def closes_to_bars(
    closes: Sequence[float], volumes: Sequence[float] | float = 100.0, wick: float = 0.001
) -> list[Bar]:
    """Bars opening at the previous close (the first at its own close), wicks of ``wick``."""
    values = [float(close) for close in closes]
    opens = [values[0], *values[:-1]]
    candles = [
        (open_, max(open_, close) * (1 + wick), min(open_, close) * (1 - wick), close)
        for open_, close in zip(opens, values, strict=True)
    ]
    return candles_to_bars(candles, volumes)


def context_of(
    bars: Sequence[Bar],
    *,
    extra: Mapping[str, float | None] | None = None,
    regime: str | None = None,
    position: Decimal = Decimal(0),
) -> AgentContext:
    """The context of the last of ``bars``, as the orchestrator builds it: the last HISTORY
    bars, their closes, every indicator's last value (plus ``extra``), and the regime once
    there are enough bars (``regime`` overrides it)."""
    recent = tuple(bars[-HISTORY:])
    high = np.array([float(bar.high) for bar in recent])
    low = np.array([float(bar.low) for bar in recent])
    close = np.array([float(bar.close) for bar in recent])
    indicators: dict[str, float | None] = {
        name: None if np.isnan(values[-1]) else float(values[-1])
        for name, values in compute_indicators(high, low, close).items()
    }
    indicators.update(extra or {})
    if regime is None and len(recent) >= MIN_BARS:
        try:
            regime = classify_regime(recent).regime.value
        except DataError:  # flat prices: regime inputs undefined
            regime = None
    return AgentContext(
        bar=recent[-1],
        closes=tuple(close.tolist()),
        indicators=indicators,
        position_quantity=position,
        bars=recent,
        regime=regime,
    )


def series_of_candles(
    candles: Sequence[Candle], volumes: Sequence[float] | float = 100.0
) -> BarSeries:
    return BarSeries.from_bars(candles_to_bars(candles, volumes))


def series_of_closes(
    closes: Sequence[float], volumes: Sequence[float] | float = 100.0, wick: float = 0.001
) -> BarSeries:
    return BarSeries.from_bars(closes_to_bars(closes, volumes, wick))


def random_walk(length: int, seed: int, volatility: float = 0.01) -> list[float]:
    """Closes of a seeded geometric random walk from 100."""
    steps = np.random.default_rng(seed).normal(0.0, volatility, length)
    return [float(value) for value in 100.0 * np.exp(np.cumsum(steps))]


def _price(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal("0.00000001"))


@pytest.fixture(scope="session")
def btc_bars() -> list[Bar]:
    """BTCUSD monthly bars (2012-2024) from the shared market data."""
    path = _PROJECT_ROOT.parent / "shared/data/market/BTCUSD.csv"
    if not path.is_file():
        pytest.fail(f"real market data not found: {path}")
    loaded = load_bars_frame(path)
    return validate_frame(
        loaded.frame, symbol=loaded.symbol, timeframe=loaded.timeframe, now=None
    ).bars()
