"""What only the in-memory bus does: bounded mailboxes that drop the oldest, clock-driven expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.errors import DataError
from trading_core.domain.market import Quote


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(datetime(2024, 3, 1, 12, 0, tzinfo=UTC))


async def test_slow_subscriber_loses_the_oldest_messages_and_counts_them(
    clock: SimulatedClock,
) -> None:
    drops: list[None] = []
    bus = InMemoryBus(clock, max_queue=3, on_drop=lambda: drops.append(None))

    async with bus.subscribe("quotes") as slow:
        # Publishing never blocks even though nobody reads.
        reached = [await bus.publish("quotes", {"n": n}) for n in range(5)]
        kept = [await slow.get(timeout=1) for _ in range(3)]
        nothing_more = await slow.get(timeout=0.01)

    assert reached == [1] * 5
    assert [message["data"]["n"] for message in kept if message is not None] == [2, 3, 4]
    assert nothing_more is None
    assert slow.dropped == 2
    assert bus.dropped_messages == 2
    assert len(drops) == 2


async def test_a_slow_subscriber_does_not_cost_a_fast_one_messages(clock: SimulatedClock) -> None:
    bus = InMemoryBus(clock, max_queue=2)

    async with bus.subscribe("signals") as slow, bus.subscribe("signals") as fast:
        received = []
        for n in range(4):
            await bus.publish("signals", {"n": n})
            received.append(await fast.get(timeout=1))

    assert [m["data"]["n"] for m in received if m is not None] == [0, 1, 2, 3]
    assert fast.dropped == 0
    assert slow.dropped == 2


async def test_subscribers_get_their_own_copy_of_each_message(clock: SimulatedClock) -> None:
    bus = InMemoryBus(clock)
    async with bus.subscribe("orders") as first, bus.subscribe("orders") as second:
        await bus.publish("orders", {"fills": []})
        one = await first.get(timeout=1)
        assert one is not None
        one["data"]["fills"].append("tampered")
        two = await second.get(timeout=1)

    assert two == {"channel": "orders", "data": {"fills": []}}


async def test_quote_expires_exactly_at_its_ttl(clock: SimulatedClock) -> None:
    bus = InMemoryBus(clock)
    quote = Quote(
        symbol="EUR/USD",
        bid=Decimal("1.08"),
        ask=Decimal("1.0801"),
        last=Decimal("1.08005"),
        timestamp=clock.now(),
        source="ib",
    )
    await bus.set_quote(quote, ttl_seconds=5)

    clock.advance(timedelta(seconds=4, microseconds=999_999))
    still_there = await bus.get_quote("EUR/USD")
    clock.advance(timedelta(microseconds=1))

    assert still_there == quote
    assert await bus.get_quote("EUR/USD") is None


async def test_reading_a_quote_key_as_plain_value_is_a_data_error(clock: SimulatedClock) -> None:
    bus = InMemoryBus(clock)
    await bus.set("quote:BTC/USD", "not a hash")

    with pytest.raises(DataError, match="holds a plain value"):
        await bus.get_quote("BTC/USD")


def test_mailbox_size_must_be_positive(clock: SimulatedClock) -> None:
    with pytest.raises(ValueError, match="max_queue must be positive"):
        InMemoryBus(clock, max_queue=0)
