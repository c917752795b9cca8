"""open_bus picks the bus from the configured URL and fails at start-up on a bad one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trading_core.adapters.bus_factory import open_bus
from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.bus_redis import RedisBus
from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.errors import BusUnavailableError, ConfigurationError

pytestmark = pytest.mark.integration


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(datetime(2024, 3, 1, tzinfo=UTC))


@pytest.mark.parametrize("url", [None, "memory://"])
async def test_no_url_or_memory_url_gives_the_in_memory_bus(
    url: str | None, clock: SimulatedClock
) -> None:
    bus = await open_bus(url, clock)

    assert isinstance(bus, InMemoryBus)
    assert bus.url == "memory://"
    await bus.close()


async def test_redis_url_gives_a_connected_redis_bus(clock: SimulatedClock) -> None:
    bus = await open_bus("redis://127.0.0.1:6379/0", clock, prefix="test:factory:")
    try:
        assert isinstance(bus, RedisBus)
        assert bus.prefix == "test:factory:"
        assert await bus.publish("alerts", {"text": "up"}) == 0
    finally:
        await bus.close()


async def test_unreachable_redis_fails_at_start_up(clock: SimulatedClock) -> None:
    with pytest.raises(BusUnavailableError, match=r"127\.0\.0\.1:1") as error:
        await open_bus("redis://:s3cret@127.0.0.1:1/0", clock)

    assert "s3cret" not in error.value.message


@pytest.mark.parametrize(
    "url", ["postgresql://u:s3cret@localhost/db", "http://localhost:6379", "127.0.0.1:6379"]
)
async def test_unsupported_url_is_a_configuration_error(url: str, clock: SimulatedClock) -> None:
    with pytest.raises(ConfigurationError, match="unsupported bus URL") as error:
        await open_bus(url, clock)

    assert "s3cret" not in error.value.message
