"""The Bus port's contract, run against the in-memory bus and a real Redis alike."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.bus_redis import RedisBus
from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.market import Quote
from trading_core.ports.bus import (
    QUOTE_TTL_SECONDS,
    REGIME_KEY,
    SESSION_STATE_KEY,
    Bus,
    circuit_key,
)

pytestmark = pytest.mark.integration

AnyBus = InMemoryBus | RedisBus

WAIT = 5.0  # generous bound for messages that must arrive


def _quote(symbol: str = "BTC/USD") -> Quote:
    return Quote(
        symbol=symbol,
        bid=Decimal("64123.12345678"),
        ask=Decimal("64123.50000000"),
        last=Decimal("64123.3"),
        volume=Decimal("0.00000001"),
        timestamp=datetime(2024, 3, 1, 11, 59, 59, 123456, tzinfo=UTC),
        source="kraken",
    )


def test_both_buses_satisfy_the_bus_port(bus: AnyBus) -> None:
    port: Bus = bus
    assert port.url


async def test_quote_round_trips_with_exact_decimals(bus: AnyBus) -> None:
    quote = _quote()

    await bus.set_quote(quote)
    cached = await bus.get_quote("BTC/USD")

    assert cached == quote
    assert cached is not None
    # Same digits and exponent, trailing zeros included: nothing went through a float.
    for field in ("bid", "ask", "last", "volume"):
        assert getattr(cached, field).as_tuple() == getattr(quote, field).as_tuple()
    assert f"{cached.ask:f}" == "64123.50000000"
    assert cached.timestamp == quote.timestamp


async def test_missing_quote_is_none(bus: AnyBus) -> None:
    assert await bus.get_quote("ETH/USD") is None


async def test_newer_quote_replaces_the_cached_one(bus: AnyBus) -> None:
    await bus.set_quote(_quote())
    newer = _quote().model_copy(update={"last": Decimal("64200"), "source": "ib"})

    await bus.set_quote(newer)

    assert await bus.get_quote("BTC/USD") == newer


async def test_quote_lives_sixty_seconds(bus: AnyBus, clock: SimulatedClock) -> None:
    await bus.set_quote(_quote())

    ttl = await bus.ttl("quote:BTC/USD")

    assert QUOTE_TTL_SECONDS == 60
    assert ttl is not None
    assert 55 < ttl <= 60
    if isinstance(bus, InMemoryBus):
        assert ttl == 60
        clock.advance(timedelta(seconds=59))
        assert await bus.get_quote("BTC/USD") is not None
        clock.advance(timedelta(seconds=2))
        assert await bus.get_quote("BTC/USD") is None
        assert await bus.ttl("quote:BTC/USD") is None


async def test_key_without_ttl_is_kept_and_reports_no_expiry(bus: AnyBus) -> None:
    await bus.set(REGIME_KEY, "trending_up")

    assert await bus.get(REGIME_KEY) == "trending_up"
    assert await bus.ttl(REGIME_KEY) is None


async def test_key_with_ttl_reports_remaining_seconds(bus: AnyBus, clock: SimulatedClock) -> None:
    key = circuit_key("broker")
    await bus.set(key, "open", ttl_seconds=30)

    ttl = await bus.ttl(key)

    assert await bus.get(key) == "open"
    assert ttl is not None
    assert 25 < ttl <= 30
    if isinstance(bus, InMemoryBus):
        clock.advance(timedelta(seconds=30))
        assert await bus.get(key) is None


async def test_set_overwrites_value_and_ttl(bus: AnyBus) -> None:
    await bus.set(SESSION_STATE_KEY, "ACTIVE", ttl_seconds=30)

    await bus.set(SESSION_STATE_KEY, "HALTED")

    assert await bus.get(SESSION_STATE_KEY) == "HALTED"
    assert await bus.ttl(SESSION_STATE_KEY) is None


async def test_missing_key_has_no_value_and_no_ttl(bus: AnyBus) -> None:
    assert await bus.get("circuit:nobody") is None
    assert await bus.ttl("circuit:nobody") is None


async def test_non_positive_ttl_is_refused(bus: AnyBus) -> None:
    with pytest.raises(ValueError, match="ttl_seconds must be positive"):
        await bus.set(REGIME_KEY, "x", ttl_seconds=0)
    with pytest.raises(ValueError, match="ttl_seconds must be positive"):
        await bus.set_quote(_quote(), ttl_seconds=-1)


async def test_publish_without_subscribers_reaches_nobody(bus: AnyBus) -> None:
    assert await bus.publish("alerts", {"text": "nobody listens"}) == 0


async def test_subscriber_receives_json_messages_in_order_on_its_channel_only(
    bus: AnyBus,
) -> None:
    async with bus.subscribe("signals") as subscription:
        assert await bus.publish("orders", {"order_id": "o-1"}) == 0
        for n in range(3):
            assert await bus.publish("signals", {"n": n, "tags": ["a", "b"], "ok": True}) == 1

        received = [await subscription.get(timeout=WAIT) for _ in range(3)]
        leftover = await subscription.get(timeout=0.1)

    assert received == [
        {"channel": "signals", "data": {"n": n, "tags": ["a", "b"], "ok": True}} for n in range(3)
    ]
    assert leftover is None


async def test_decimals_and_datetimes_in_messages_arrive_as_exact_strings(
    bus: AnyBus,
) -> None:
    at = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    async with bus.subscribe("quotes") as subscription:
        await bus.publish("quotes", {"price": Decimal("0.10"), "at": at, "x": None})
        message = await subscription.get(timeout=WAIT)

    assert message == {
        "channel": "quotes",
        "data": {"price": "0.10", "at": "2024-03-01T12:00:00+00:00", "x": None},
    }


async def test_one_subscription_on_two_channels_names_each_message_channel(
    bus: AnyBus,
) -> None:
    async with bus.subscribe("alerts", "regime") as subscription:
        await bus.publish("regime", {"regime": "ranging"})
        await bus.publish("alerts", {"text": "drawdown 5%"})
        first = await subscription.get(timeout=WAIT)
        second = await subscription.get(timeout=WAIT)

    assert first == {"channel": "regime", "data": {"regime": "ranging"}}
    assert second == {"channel": "alerts", "data": {"text": "drawdown 5%"}}


async def test_every_subscriber_of_a_channel_gets_the_message(bus: AnyBus) -> None:
    async with bus.subscribe("orders") as first, bus.subscribe("orders") as second:
        reached = await bus.publish("orders", {"order_id": "o-7"})

        got = [await first.get(timeout=WAIT), await second.get(timeout=WAIT)]

    assert reached == 2
    assert got == [{"channel": "orders", "data": {"order_id": "o-7"}}] * 2


async def test_leaving_the_subscribe_block_unsubscribes(bus: AnyBus) -> None:
    async with bus.subscribe("alerts"):
        assert await bus.publish("alerts", {"text": "heard"}) == 1

    assert await bus.publish("alerts", {"text": "unheard"}) == 0


async def test_get_returns_none_when_nothing_arrives_within_the_timeout(
    bus: AnyBus,
) -> None:
    async with bus.subscribe("signals") as subscription:
        started = time.monotonic()
        async with asyncio.timeout(WAIT):
            message = await subscription.get(timeout=0.2)
        elapsed = time.monotonic() - started

    assert message is None
    assert 0.15 <= elapsed < WAIT


async def test_unknown_channel_is_refused(bus: AnyBus) -> None:
    with pytest.raises(ValueError, match=r"unknown bus channel 'trades'.*quotes"):
        await bus.publish("trades", {"x": 1})
    with pytest.raises(ValueError, match="unknown bus channel 'trades'"):
        async with bus.subscribe("quotes", "trades"):
            pass


async def test_message_that_is_not_json_serialisable_is_refused(
    bus: AnyBus,
) -> None:
    with pytest.raises(TypeError, match="JSON-serialisable"):
        await bus.publish("alerts", {"blob": object()})
