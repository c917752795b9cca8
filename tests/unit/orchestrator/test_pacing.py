"""Pacing a replay: bars come out as their market time comes due, scaled by the speed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.market import Bar, Timeframe
from trading_core.orchestrator.pacing import paced

T0 = datetime(2018, 1, 10, tzinfo=UTC)


def bar(i: int) -> Bar:
    price = Decimal(100)
    return Bar(
        symbol="ETH/BTC",
        timeframe=Timeframe.M5,
        timestamp=T0 + timedelta(minutes=5 * i),
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1),
    )


async def stream(count: int) -> AsyncIterator[Bar]:
    for i in range(count):
        yield bar(i)


@pytest.mark.parametrize(("speed", "gap"), [(1.0, 300.0), (60.0, 5.0), (300.0, 1.0)])
async def test_each_bar_waits_its_market_interval_divided_by_the_speed(
    speed: float, gap: float
) -> None:
    wall = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC))
    released: list[float] = []
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        wall.advance_to(wall.now() + timedelta(seconds=seconds))

    start = wall.now()
    async for _ in paced(stream(4), speed=speed, wall=wall, sleep=sleep):
        released.append((wall.now() - start).total_seconds())
    assert released == pytest.approx([0.0, gap, 2 * gap, 3 * gap])
    assert slept == pytest.approx([gap, gap, gap])


async def test_time_spent_processing_counts_toward_the_wait() -> None:
    wall = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        wall.advance_to(wall.now() + timedelta(seconds=seconds))

    async for _ in paced(stream(3), speed=60.0, wall=wall, sleep=sleep):
        wall.advance_to(wall.now() + timedelta(seconds=2))  # the pipeline's work on the bar
    assert slept == pytest.approx([3.0, 3.0])


async def test_a_slow_consumer_is_never_made_to_wait_more() -> None:
    wall = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async for _ in paced(stream(3), speed=600.0, wall=wall, sleep=sleep):
        wall.advance_to(wall.now() + timedelta(seconds=10))  # slower than 0.5 s a bar
    assert slept == []


async def test_speed_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        async for _ in paced(stream(1), speed=0, wall=SimulatedClock(T0), sleep=_never):
            pass


async def _never(seconds: float) -> None:
    raise AssertionError("no sleep expected")
