"""The seeded synthetic market: determinism, regimes, quotes and the real-time mode."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.market import Bar, Timeframe
from trading_core.marketdata.synthetic import Regime, SyntheticSource
from trading_core.ports.market_data import MarketDataSource

START = datetime(2024, 1, 1, tzinfo=UTC)


def _source(seed: int = 42, bars: int | None = 500, **options: object) -> SyntheticSource:
    return SyntheticSource(
        ["BTC/USD", "ETH/USD"],
        seed=seed,
        start=START,
        timeframe=Timeframe.H1,
        bars=bars,
        **options,  # type: ignore[arg-type]
    )


async def _collect(source: MarketDataSource) -> list[Bar]:
    return [bar async for bar in source.bars()]


async def test_same_seed_gives_identical_bars() -> None:
    assert await _collect(_source(seed=42)) == await _collect(_source(seed=42))


async def test_different_seeds_give_different_bars() -> None:
    first, second = await _collect(_source(seed=1)), await _collect(_source(seed=2))

    assert [bar.close for bar in first] != [bar.close for bar in second]


async def test_adding_a_symbol_does_not_change_the_others() -> None:
    alone = SyntheticSource(["BTC/USD"], seed=42, start=START, timeframe=Timeframe.H1, bars=100)
    together = SyntheticSource(
        ["BTC/USD", "SOL/USD"], seed=42, start=START, timeframe=Timeframe.H1, bars=100
    )

    btc_together = [bar for bar in await _collect(together) if bar.symbol == "BTC/USD"]

    assert await _collect(alone) == btc_together


async def test_bars_are_in_time_order_ties_by_symbol_and_continuous() -> None:
    bars = await _collect(_source(bars=50))

    assert len(bars) == 100
    assert [(bar.timestamp, bar.symbol) for bar in bars[:3]] == [
        (START, "BTC/USD"),
        (START, "ETH/USD"),
        (START + timedelta(hours=1), "BTC/USD"),
    ]
    btc = [bar for bar in bars if bar.symbol == "BTC/USD"]
    assert btc[0].open == Decimal("100.00")
    assert all(later.open == earlier.close for earlier, later in itertools.pairwise(btc))
    assert all(bar.close.as_tuple().exponent == -2 for bar in btc)


async def test_prices_sit_on_a_tick_that_is_not_a_power_of_ten() -> None:
    bars = await _collect(_source(bars=200, tick=Decimal("0.05")))

    prices = [price for bar in bars for price in (bar.open, bar.high, bar.low, bar.close)]
    assert all(price % Decimal("0.05") == 0 for price in prices)
    assert len({bar.close for bar in bars}) > 20  # the walk moves, it is not stuck on a tick


async def test_regimes_switch_and_each_one_occurs_over_a_long_walk() -> None:
    source = _source(bars=3000)
    regimes: list[Regime | None] = []
    async for bar in source.bars():
        if bar.symbol == "BTC/USD":
            regimes.append(source.regime("BTC/USD"))

    switches = sum(1 for a, b in itertools.pairwise(regimes) if a != b)
    assert set(Counter(regimes)) == set(Regime)
    # persistence 0.98: about 60 switches in 3000 bars
    assert 30 < switches < 100


async def test_trending_regimes_drift_in_their_direction() -> None:
    up_moves: list[float] = []
    down_moves: list[float] = []
    source = _source(bars=5000)
    async for bar in source.bars():
        move = float(bar.close / bar.open - 1)
        regime = source.regime(bar.symbol)
        if regime is Regime.TRENDING_UP:
            up_moves.append(move)
        elif regime is Regime.TRENDING_DOWN:
            down_moves.append(move)

    assert sum(up_moves) / len(up_moves) > 0 > sum(down_moves) / len(down_moves)


async def test_quotes_have_a_small_spread_around_the_last_close() -> None:
    source = _source(bars=3, spread_bps=Decimal(2))
    assert await source.latest_quote("BTC/USD") is None

    bars = await _collect(source)
    quote = await source.latest_quote("BTC/USD")

    last_btc = [bar for bar in bars if bar.symbol == "BTC/USD"][-1]
    assert quote is not None
    assert quote.last == last_btc.close
    assert quote.bid < last_btc.close < quote.ask
    # 2 bps of 99.24 is 0.0198: bid and ask rounded outwards to the 0.01 tick.
    assert quote.ask - quote.bid == Decimal("0.02")
    assert quote.timestamp == last_btc.close_time
    assert quote.source == "synthetic:42"


async def test_endless_stream_keeps_going() -> None:
    stream = _source(bars=None).bars()

    bars = [await anext(stream) for _ in range(5000)]

    assert len(bars) == 5000
    assert bars[-1].timestamp == START + timedelta(hours=2499)
    await stream.aclose()  # type: ignore[attr-defined]


async def test_realtime_mode_emits_each_bar_once_its_close_time_is_reached() -> None:
    clock = SimulatedClock(START)
    slept: list[float] = []

    async def advance(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    source = SyntheticSource(
        ["BTC/USD"],
        seed=3,
        start=START,
        timeframe=Timeframe.M5,
        bars=3,
        realtime=True,
        clock=clock,
        sleep=advance,
    )

    emitted = [(bar.timestamp, clock.now()) async for bar in source.bars()]

    assert emitted == [
        (START + timedelta(minutes=5 * i), START + timedelta(minutes=5 * (i + 1))) for i in range(3)
    ]
    assert slept == [300.0, 300.0, 300.0]


async def test_realtime_mode_catches_up_on_bars_already_closed_without_sleeping() -> None:
    clock = SimulatedClock(START + timedelta(hours=1))

    async def forbidden(seconds: float) -> None:
        raise AssertionError(f"slept {seconds}")

    source = SyntheticSource(
        ["BTC/USD"],
        seed=3,
        start=START,
        timeframe=Timeframe.M5,
        bars=12,
        realtime=True,
        clock=clock,
        sleep=forbidden,
    )

    assert len(await _collect(source)) == 12


async def test_smaller_timeframes_move_less_per_bar() -> None:
    def mean_abs_move(bars: list[Bar]) -> float:
        return sum(abs(float(bar.close / bar.open - 1)) for bar in bars) / len(bars)

    minute = SyntheticSource(["X"], seed=5, start=START, timeframe=Timeframe.M1, bars=2000)
    daily = SyntheticSource(["X"], seed=5, start=START, timeframe=Timeframe.D1, bars=2000)

    assert mean_abs_move(await _collect(minute)) * 3 < mean_abs_move(await _collect(daily))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"symbols": []}, "at least one symbol"),
        ({"start": datetime(2024, 1, 1)}, "timezone-aware"),
        ({"bars": -1}, "must not be negative"),
        ({"regime_persistence": 1.5}, "probability"),
        ({"start_price": Decimal(0)}, "must be positive"),
    ],
)
def test_invalid_settings_are_refused(arguments: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {
        "symbols": ["X"],
        "seed": 1,
        "start": START,
        "timeframe": Timeframe.H1,
        "bars": 1,
    }
    settings.update(arguments)
    with pytest.raises(ValueError, match=message):
        SyntheticSource(**settings)  # type: ignore[arg-type]
