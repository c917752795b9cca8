"""The Redis keys and channels the README promises, written by a real run to a real Redis.

A run on its own Redis database (flushed before and after): quote hashes, ``regime:current`` and
the ``quotes``, ``regime``, ``signals`` and ``orders`` channels; the shared account's trading
state: ``session:state`` and ``circuit:{drawdown,daily_loss,kill_switch}``, at load and on a change.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as redis

from trading_core.adapters.bus_redis import RedisBus
from trading_core.adapters.clock import SimulatedClock
from trading_core.execution.trading_state import TradingStateService
from trading_core.orchestrator.runner import run
from trading_core.ports.bus import REGIME_KEY, SESSION_STATE_KEY, circuit_key, quote_key
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings
from trading_core.storage.factory import open_store

PROMISES_URL = "redis://127.0.0.1:6379/11"
"""A database of its own: a run writes the keys unprefixed, as in production."""
COMMITTEE = ["trend_hunter", "mean_reversion", "breakout_hunter", "volatility_filter"]


@pytest.fixture
async def raw() -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(PROMISES_URL, decode_responses=True)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


async def test_a_run_writes_the_quote_and_regime_keys_and_publishes_on_each_channel(
    tmp_path: Path, raw: redis.Redis
) -> None:
    settings = load_settings(
        config_dir=PACKAGED_CONFIG_DIR,
        data_dir=tmp_path,
        redis_url=PROMISES_URL,
        max_bars=400,
        agent={"committee": COMMITTEE, "entry_threshold": 0.3},
    )
    listener = RedisBus(PROMISES_URL)
    received: dict[str, int] = {}
    try:
        async with listener.subscribe("quotes", "regime", "signals", "orders") as subscription:
            summary = await run(settings)
            while (message := await subscription.get(timeout=0.5)) is not None:
                received[message["channel"]] = received.get(message["channel"], 0) + 1
    finally:
        await listener.close()

    symbols = summary.symbols
    assert symbols
    for symbol in symbols:
        quote = await raw.hgetall(quote_key(symbol))
        assert float(quote["bid"]) <= float(quote["last"]) <= float(quote["ask"])
        assert 0 < await raw.ttl(quote_key(symbol)) <= 60
    current = json.loads(await raw.get(REGIME_KEY) or "{}")
    assert set(current) == set(symbols)
    assert all(
        reading["regime"] in {"trending_up", "trending_down", "ranging", "high_volatility"}
        for reading in current.values()
    )
    # A quote per bar; a regime message per change of reading (at least the first per symbol).
    assert received.get("quotes", 0) == summary.bars
    assert received.get("regime", 0) >= len(symbols)
    assert received.get("signals", 0) > 0
    assert received.get("orders", 0) > 0


async def test_the_shared_state_is_announced_at_load_and_on_each_change(
    tmp_path: Path, raw: redis.Redis
) -> None:
    clock = SimulatedClock(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    store = await open_store(f"sqlite:///{tmp_path / 'trading.db'}", clock=clock)
    await store.upgrade()
    bus = RedisBus(PROMISES_URL)
    try:
        state = await TradingStateService.load(store=store, bus=bus, clock=clock)
        assert await raw.get(SESSION_STATE_KEY) == "ACTIVE"
        assert await raw.get(circuit_key("drawdown")) == "none"
        assert await raw.get(circuit_key("daily_loss")) == "normal"
        assert await raw.get(circuit_key("kill_switch")) == "off"

        await raw.flushdb()  # Redis restarted, say: the next process to load writes them again
        state = await TradingStateService.load(store=store, bus=bus, clock=clock)
        assert await raw.get(SESSION_STATE_KEY) == "ACTIVE"

        await state.activate_kill_switch(reason="drill", by="alice")
        assert await raw.get(SESSION_STATE_KEY) == "KILLED"
        assert await raw.get(circuit_key("kill_switch")) == "on"
    finally:
        await bus.close()
        await store.close()
