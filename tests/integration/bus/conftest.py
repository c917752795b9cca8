"""Fixtures for the bus contract: the same tests run against the in-memory bus and real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
import redis.asyncio as redis

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.bus_redis import RedisBus
from trading_core.adapters.clock import SimulatedClock

REDIS_URL = "redis://127.0.0.1:6379/0"


AnyBus = InMemoryBus | RedisBus


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(datetime(2024, 3, 1, 12, 0, tzinfo=UTC))


async def _delete_prefixed_keys(prefix: str) -> None:
    raw = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        keys = [key async for key in raw.scan_iter(match=f"{prefix}*")]
        if keys:
            await raw.delete(*keys)
    finally:
        await raw.aclose()


@pytest.fixture(params=["memory", "redis"])
def bus_kind(request: pytest.FixtureRequest) -> str:
    """Which implementation ``bus`` is: the contract tests run once per kind."""
    kind: str = request.param
    return kind


@pytest.fixture
async def bus(bus_kind: str, clock: SimulatedClock) -> AsyncIterator[AnyBus]:
    """A fresh bus; the memory one follows ``clock``, the Redis one uses a unique key prefix."""
    if bus_kind == "memory":
        memory_bus = InMemoryBus(clock)
        try:
            yield memory_bus
        finally:
            await memory_bus.close()
        return
    # A unique prefix per test keeps parallel runs and leftovers from colliding.
    prefix = f"test:{uuid4().hex}:"
    redis_bus = RedisBus(REDIS_URL, prefix=prefix)
    await redis_bus.ping()
    try:
        yield redis_bus
    finally:
        await _delete_prefixed_keys(prefix)
        await redis_bus.close()
