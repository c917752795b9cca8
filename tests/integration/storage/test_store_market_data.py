"""Bars and indicators, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from trading_core.domain.market import Bar, Timeframe
from trading_core.ports.store import Store

pytestmark = pytest.mark.integration


async def test_bar_with_an_existing_timestamp_replaces_it(
    store: Store, make_bar: Callable[..., Bar]
) -> None:
    await store.upsert_bars([make_bar(0, "100"), make_bar(1, "101")])

    written = await store.upsert_bars([make_bar(1, "105"), make_bar(2, "102")])

    assert written == 2
    bars = await store.get_bars("BTC/USD", Timeframe.M1)
    assert [b.close for b in bars] == [Decimal("100"), Decimal("105"), Decimal("102")]
    assert bars[1] == make_bar(1, "105")


async def test_duplicate_bars_in_one_batch_keep_the_last(
    store: Store, make_bar: Callable[..., Bar]
) -> None:
    assert await store.upsert_bars([make_bar(0, "100"), make_bar(0, "99")]) == 1

    assert await store.get_bars("BTC/USD", Timeframe.M1) == [make_bar(0, "99")]


async def test_bars_are_selected_by_range_and_limit_keeps_the_most_recent_oldest_first(
    store: Store, make_bar: Callable[..., Bar], t0: datetime
) -> None:
    await store.upsert_bars([make_bar(m, str(100 + m)) for m in reversed(range(10))])
    await store.upsert_bars([make_bar(3, symbol="ETH/USD"), make_bar(3, timeframe=Timeframe.H1)])

    def minutes(bars: list[Bar]) -> list[int]:
        return [int((b.timestamp - t0).total_seconds() // 60) for b in bars]

    assert minutes(await store.get_bars("BTC/USD", Timeframe.M1)) == list(range(10))
    in_range = await store.get_bars(
        "BTC/USD", Timeframe.M1, start=t0 + timedelta(minutes=2), end=t0 + timedelta(minutes=6)
    )
    assert minutes(in_range) == [2, 3, 4, 5, 6]
    plus_two = timezone(timedelta(hours=2))
    same_range = await store.get_bars(
        "BTC/USD",
        Timeframe.M1,
        start=(t0 + timedelta(minutes=2)).astimezone(plus_two),
        end=(t0 + timedelta(minutes=6)).astimezone(plus_two),
    )
    assert same_range == in_range
    assert minutes(await store.get_bars("BTC/USD", Timeframe.M1, limit=3)) == [7, 8, 9]
    limited = await store.get_bars("BTC/USD", Timeframe.M1, end=t0 + timedelta(minutes=6), limit=2)
    assert minutes(limited) == [5, 6]
    assert minutes(await store.get_bars("ETH/USD", Timeframe.M1)) == [3]
    assert await store.get_bars("BTC/USD", Timeframe.D1) == []


async def test_a_large_batch_of_bars_round_trips(
    store: Store, make_bar: Callable[..., Bar]
) -> None:
    bars = [make_bar(m, f"{100 + m}.12345678") for m in range(2000)]

    assert await store.upsert_bars(bars) == 2000

    assert await store.get_bars("BTC/USD", Timeframe.M1) == bars


async def test_indicators_are_stored_per_bar_and_replaced(store: Store, t0: datetime) -> None:
    later = t0 + timedelta(minutes=1)
    await store.upsert_indicators("BTC/USD", Timeframe.M1, t0, {"rsi": 55.5, "sma": None})
    await store.upsert_indicators("BTC/USD", Timeframe.M1, later, {"rsi": 60.0})
    await store.upsert_indicators("BTC/USD", Timeframe.M1, t0, {"rsi": 41.25, "atr": float("nan")})

    assert await store.get_indicators("BTC/USD", Timeframe.M1, t0) == {"rsi": 41.25, "atr": None}
    assert await store.get_indicators("BTC/USD", Timeframe.M1, later) == {"rsi": 60.0}
    assert await store.get_indicators("BTC/USD", Timeframe.H1, t0) == {}
