"""The Kraken fake served on a local port, ccxt pointed at it, and the broker over both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.execution.kraken_broker import KrakenBroker, trading_exchange

from .kraken_fake import API_KEY, API_SECRET, KrakenFake

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
FAST = 5
"""ccxt's spacing between calls in tests (Kraken's own is 3 s; the limiter itself stays on)."""


@pytest.fixture
async def kraken() -> AsyncIterator[KrakenFake]:
    fake = KrakenFake()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


@pytest.fixture
async def broker(kraken: KrakenFake, clock: SimulatedClock) -> AsyncIterator[KrakenBroker]:
    opened = KrakenBroker(
        trading_exchange(API_KEY, API_SECRET, api_url=kraken.url, rate_limit_ms=FAST), clock
    )
    yield opened
    await opened.close()
