"""What only the Redis bus does: the exact wire layout, the key prefix and failure reporting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
import redis.asyncio as redis

from trading_core.adapters.bus_redis import RedisBus, mask_url
from trading_core.domain.errors import BusUnavailableError, ConfigurationError, DataError
from trading_core.domain.market import Quote

pytestmark = pytest.mark.integration

REDIS_URL = "redis://127.0.0.1:6379/0"
CLOSED_PORT_URL = "redis://trader:s3cret@127.0.0.1:1/0"


@pytest.fixture
async def raw_redis() -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


def _quote(symbol: str) -> Quote:
    return Quote(
        symbol=symbol,
        bid=Decimal("64123.10"),
        ask=Decimal("64123.20"),
        last=Decimal("64123.15"),
        volume=Decimal("0.00000001"),
        timestamp=datetime(2024, 3, 1, 12, 0, 0, 500000, tzinfo=UTC),
        source="kraken",
    )


async def test_default_prefix_writes_the_seed_quote_hash(raw_redis: redis.Redis) -> None:
    bus = RedisBus(REDIS_URL)
    try:
        await bus.set_quote(_quote("BTC/USD"))

        key_type = await raw_redis.type("quote:BTC/USD")
        fields = await raw_redis.hgetall("quote:BTC/USD")
        ttl = await raw_redis.ttl("quote:BTC/USD")
    finally:
        await raw_redis.delete("quote:BTC/USD")
        await bus.close()

    assert key_type == "hash"
    assert fields == {
        "bid": "64123.10",
        "ask": "64123.20",
        "last": "64123.15",
        "volume": "0.00000001",
        "timestamp": "2024-03-01T12:00:00.500000+00:00",
        "source": "kraken",
    }
    assert 55 < ttl <= 60


async def test_prefix_is_prepended_to_keys_and_channels(raw_redis: redis.Redis) -> None:
    prefix = f"test:{uuid4().hex}:"
    bus = RedisBus(REDIS_URL, prefix=prefix)
    pubsub = raw_redis.pubsub()
    try:
        await bus.set("regime:current", "ranging", ttl_seconds=30)
        await pubsub.subscribe(f"{prefix}alerts")
        confirmation = await pubsub.get_message(timeout=5)
        reached = await bus.publish("alerts", {"text": "hi"})
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)

        stored = await raw_redis.get(f"{prefix}regime:current")
    finally:
        await raw_redis.delete(f"{prefix}regime:current")
        await pubsub.aclose()
        await bus.close()

    assert bus.prefix == prefix
    assert stored == "ranging"
    assert confirmation is not None
    assert confirmation["type"] == "subscribe"
    assert reached == 1
    assert message is not None
    assert message["channel"] == f"{prefix}alerts"
    assert message["data"] == '{"text":"hi"}'


async def test_buses_with_different_prefixes_do_not_see_each_other(
    raw_redis: redis.Redis,
) -> None:
    first = RedisBus(REDIS_URL, prefix=f"test:{uuid4().hex}:")
    second = RedisBus(REDIS_URL, prefix=f"test:{uuid4().hex}:")
    try:
        await first.set("session:state", "ACTIVE", ttl_seconds=30)
        async with second.subscribe("orders"):
            reached = await first.publish("orders", {"order_id": "o-1"})
        seen = await second.get("session:state")
    finally:
        await raw_redis.delete(f"{first.prefix}session:state")
        await first.close()
        await second.close()

    assert seen is None
    assert reached == 0


async def test_non_json_message_from_outside_is_skipped(raw_redis: redis.Redis) -> None:
    prefix = f"test:{uuid4().hex}:"
    bus = RedisBus(REDIS_URL, prefix=prefix)
    try:
        async with bus.subscribe("alerts") as subscription:
            await raw_redis.publish(f"{prefix}alerts", "not json")
            await bus.publish("alerts", {"text": "valid"})
            message = await subscription.get(timeout=5)
    finally:
        await bus.close()

    assert message == {"channel": "alerts", "data": {"text": "valid"}}


async def test_malformed_cached_quote_is_a_data_error(raw_redis: redis.Redis) -> None:
    prefix = f"test:{uuid4().hex}:"
    bus = RedisBus(REDIS_URL, prefix=prefix)
    try:
        await raw_redis.hset(f"{prefix}quote:BTC/USD", mapping={"bid": "abc"})
        await raw_redis.set(f"{prefix}quote:ETH/USD", "plain string")
        with pytest.raises(DataError, match="lacks fields"):
            await bus.get_quote("BTC/USD")
        with pytest.raises(DataError, match="quote:ETH/USD holds a different kind of value"):
            await bus.get_quote("ETH/USD")
    finally:
        await raw_redis.delete(f"{prefix}quote:BTC/USD", f"{prefix}quote:ETH/USD")
        await bus.close()


async def test_unreachable_redis_is_reported_with_host_and_port_but_no_password() -> None:
    bus = RedisBus(CLOSED_PORT_URL)
    try:
        with pytest.raises(BusUnavailableError) as ping_error:
            await bus.ping()
        with pytest.raises(BusUnavailableError):
            await bus.set("regime:current", "x")
        with pytest.raises(BusUnavailableError):
            async with bus.subscribe("alerts"):
                pass
    finally:
        await bus.close()

    assert "127.0.0.1:1" in ping_error.value.message
    assert "s3cret" not in str(ping_error.value)
    assert ping_error.value.code == "BUS_UNAVAILABLE"
    assert bus.url == "redis://trader:***@127.0.0.1:1/0"


def test_malformed_url_is_a_configuration_error_without_the_password() -> None:
    with pytest.raises(ConfigurationError, match="invalid Redis URL") as error:
        RedisBus("redis://:s3cret@127.0.0.1:notaport/0")

    assert "s3cret" not in error.value.message


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:pw@host:6380/1", "redis://:***@host:6380/1"),
        ("rediss://user:pw@host/0", "rediss://user:***@host/0"),
    ],
)
def test_mask_url_hides_only_the_password(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_mask_url_masks_even_a_url_with_a_broken_port() -> None:
    assert mask_url("redis://u:pw@host:notaport/0") == "redis://u:***@host:notaport/0"
