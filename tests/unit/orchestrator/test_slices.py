"""Bars grouped into slices: a live feed's slice is processed when complete, not a bar later."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading_core.domain.market import Bar, Timeframe
from trading_core.orchestrator.pipeline import _slices

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def bar(symbol: str, minutes: int) -> Bar:
    price = Decimal(100)
    return Bar(
        symbol=symbol,
        timeframe=Timeframe.M5,
        timestamp=T0 + timedelta(minutes=minutes),
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1),
    )


async def live_feed(held: asyncio.Event) -> AsyncIterator[Bar]:
    """Both symbols' 12:00 bars, then nothing until ``held`` is set (the next bar is 5 min off)."""
    yield bar("BTC/USD", 0)
    yield bar("ETH/USD", 0)
    await held.wait()
    yield bar("BTC/USD", 5)


async def test_a_complete_slice_is_yielded_without_waiting_for_the_next_bar() -> None:
    held = asyncio.Event()
    slices = _slices(live_feed(held), complete_at=2)
    first = await asyncio.wait_for(anext(slices), timeout=1)
    assert [b.symbol for b in first] == ["BTC/USD", "ETH/USD"]
    held.set()
    assert [b.symbol for b in await anext(slices)] == ["BTC/USD"]  # the incomplete last one


async def test_without_a_count_the_slice_waits_for_a_later_bar() -> None:
    held = asyncio.Event()
    slices = _slices(live_feed(held))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(slices), timeout=0.2)


async def test_a_slice_missing_a_symbol_still_ends_at_the_next_time() -> None:
    async def gappy() -> AsyncIterator[Bar]:
        for item in (bar("BTC/USD", 0), bar("BTC/USD", 5), bar("ETH/USD", 5)):
            yield item

    grouped = [[b.timestamp.minute for b in s] async for s in _slices(gappy(), complete_at=2)]
    assert grouped == [[0], [5, 5]]
