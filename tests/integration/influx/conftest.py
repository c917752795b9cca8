"""A fake InfluxDB for each test, serving on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .influx_fake import InfluxFake


@pytest.fixture
async def influx() -> AsyncIterator[InfluxFake]:
    server = await InfluxFake().start()
    try:
        yield server
    finally:
        await server.close()
