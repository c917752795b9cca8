"""`trading-core run` switched to real PostgreSQL and Redis, metrics while running, and Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from trading_core.orchestrator.pipeline import PipelineStats
from trading_core.orchestrator.runner import run
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings
from trading_core.storage.factory import open_store

from .conftest import RunCli

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ADMIN_URL = os.environ.get(
    "TRADING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    name = f"trading_e2e_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = ADMIN_URL.rsplit("/", 1)[0]
        yield f"{base}/{name}"
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _decision_count(url: str) -> int:
    store = await open_store(url)
    try:
        return await store.count_decisions()
    finally:
        await store.close()


async def _redis_quote(symbol: str) -> tuple[dict[bytes, bytes], int]:
    client = aioredis.from_url(REDIS_URL)
    try:
        fields = await client.hgetall(f"quote:{symbol}")
        ttl = await client.ttl(f"quote:{symbol}")
        await client.delete(f"quote:{symbol}")
        return fields, ttl
    finally:
        await client.aclose()


def test_run_against_postgres_and_redis_needs_only_two_flags(
    run_cli: RunCli, postgres_url: str, tmp_path: Path
) -> None:
    result = run_cli(
        "run", "--max-bars", "300", "-q", "--db-url", postgres_url, "--redis-url", REDIS_URL
    )
    assert result.returncode == 0, result.stderr
    assert "bus            : redis://127.0.0.1:6379/15" in result.stdout
    assert asyncio.run(_decision_count(postgres_url)) == 600
    fields, ttl = asyncio.run(_redis_quote("BTC/USD"))
    assert set(fields) >= {b"bid", b"ask", b"last", b"timestamp"}
    assert 0 < ttl <= 60
    assert not (tmp_path / "data").exists()  # no SQLite file when PostgreSQL is configured


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_metrics_are_served_while_the_run_is_going(tmp_path: Path) -> None:
    port = _free_port()
    settings = load_settings(
        data_dir=tmp_path, max_bars=300, metrics_port=port, config_dir=PACKAGED_CONFIG_DIR
    )
    scraped: list[str] = []

    def scrape(stats: PipelineStats, at: datetime, total: int | None) -> None:
        if stats.bars >= 200 and not scraped:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
                scraped.append(page.read().decode())

    summary = await run(settings, progress=scrape)
    assert summary.bars == 600
    text = scraped[0]
    assert 'trading_bars_processed_total{symbol="BTC/USD"} 1' in text
    assert "trading_decisions_total{" in text
    assert "trading_equity " in text
    assert 'data_feed_last_update_timestamp_seconds{symbol="ETH/USD"}' in text
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 2):
        pass  # the server is closed when the run ends


def test_ctrl_c_stops_after_the_current_bar_with_every_decision_saved(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TRADING_CONFIG_DIR": str(PACKAGED_CONFIG_DIR),
        "TRADING_DATA_DIR": str(tmp_path / "data"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "trading_core.cli", "run", "--max-bars", "1000000"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first_progress = process.stderr.readline()  # blocks until the run is under way
        assert "bars" in first_progress
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, stderr
    assert "(stopped early)" in stdout
    bars = int(stdout.split("bars processed :")[1].split()[0])
    assert 0 < bars < 2_000_000
    db = f"sqlite:///{tmp_path / 'data' / 'trading.db'}"
    assert asyncio.run(_decision_count(db)) == bars


async def _run_events(db_url: str) -> list[str]:
    store = await open_store(db_url)
    try:
        return [f"{e.event_type}: {e.message}" for e in await store.list_events()]
    finally:
        await store.close()


def test_a_paced_replay_plays_at_its_speed_and_a_stop_cancels_open_orders(
    tmp_path: Path, market: Path
) -> None:
    env = {
        **os.environ,
        "TRADING_CONFIG_DIR": str(PACKAGED_CONFIG_DIR),
        "TRADING_DATA_DIR": str(tmp_path / "data"),
    }
    data = str(market / "ETH_BTC-5m.feather")
    # 3000x: a 5-minute bar every 0.1 s of wall time (unpaced, a replay runs > 500 bars/s).
    process = subprocess.Popen(
        [sys.executable, "-m", "trading_core.cli", "run", "--data", data, "--speed", "3000"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for _ in range(3):  # progress lines come once a second
            assert "bars" in process.stderr.readline()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, stderr
    assert "(stopped early)" in stdout
    bars = int(stdout.split("bars processed :")[1].split()[0])
    assert 10 <= bars <= 80, f"{bars} bars in about 3 s at 10 bars/s"
    events = asyncio.run(_run_events(f"sqlite:///{tmp_path / 'data' / 'trading.db'}"))
    stopped = [e for e in events if e.startswith("run_stopped")]
    assert len(stopped) == 1
    assert "open order(s) cancelled" in stopped[0]
