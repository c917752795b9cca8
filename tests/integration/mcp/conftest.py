"""Servers over a scratch embedded database, driven through fastmcp's in-memory Client.

The clock is simulated, so the synthetic feed (1-minute bars anchored at the clock's start) and
every timestamp are reproducible; ``advance`` moves market time forward by whole seconds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client, FastMCP

from mcp_servers.runtime import Runtime
from mcp_servers.suite import build_suite
from trading_core.adapters.clock import SimulatedClock
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings, load_settings

REPO = Path(__file__).resolve().parents[3]
START = datetime(2026, 1, 5, 12, 0, 30, tzinfo=UTC)
"""30 s into a minute: the latest 1-minute quote is 30 s old, inside the 60 s reference age."""


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return load_settings(
            config_dir=PACKAGED_CONFIG_DIR, data_dir=tmp_path / "data", **overrides
        )

    return make


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


@pytest.fixture
async def runtime(settings: Settings, clock: SimulatedClock) -> AsyncIterator[Runtime]:
    runtime = Runtime(settings, clock=clock)
    yield runtime
    await runtime.close()


@pytest.fixture
def suite(runtime: Runtime) -> FastMCP[Any]:
    return build_suite(runtime)


@pytest.fixture(params=["legacy", "auto"])
def mode(request: pytest.FixtureRequest) -> str:
    """Both protocol eras: 2025-11-25 (legacy) and 2026-07-28 (what ``auto`` negotiates)."""
    return str(request.param)


@pytest.fixture
async def client(suite: FastMCP[Any], mode: str) -> AsyncIterator[Client[Any]]:
    async with Client(suite, mode=mode) as connected:
        yield connected


def advance(clock: SimulatedClock, seconds: float) -> None:
    clock.advance_to(clock.now() + timedelta(seconds=seconds))
