"""A live run whose feed is down still stops at once on Ctrl-C or SIGTERM, and says why it waits.

The Kraken source is pointed at a local port nobody listens on (``TRADING_KRAKEN__API_URL``), so
every poll fails the way a DNS or network failure does, without touching the internet.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trading_core.settings import PACKAGED_CONFIG_DIR
from trading_core.storage.factory import open_store

pytestmark = pytest.mark.e2e

STARTUP_LIMIT_SECONDS = 90.0
STOP_LIMIT_SECONDS = 5.0
"""Generous for a noisy 2-core machine; the defect was a run that ignored the signal for hours."""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_line(process: subprocess.Popen[str], needle: str, limit: float) -> list[str]:
    """Lines of stderr up to the first containing ``needle`` (bounded by ``limit`` seconds)."""
    assert process.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    seen: list[str] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not selector.select(timeout=max(deadline - time.monotonic(), 0)):
            break
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"no line with {needle!r} within {limit} s: {''.join(seen)}")


async def _events(db_url: str) -> list[str]:
    store = await open_store(db_url)
    try:
        return [event.event_type for event in await store.list_events()]
    finally:
        await store.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_run_waiting_on_a_dead_feed_stops_within_seconds_and_names_the_cause(
    tmp_path: Path, signum: signal.Signals
) -> None:
    env = {
        **os.environ,
        "TRADING_CONFIG_DIR": str(PACKAGED_CONFIG_DIR),
        "TRADING_DATA_DIR": str(tmp_path / "data"),
        "TRADING_KRAKEN__API_URL": f"http://127.0.0.1:{_closed_port()}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "trading_core.cli", "run", "--source", "kraken"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = _wait_for_line(process, "unavailable", STARTUP_LIMIT_SECONDS)
        warning = lines[-1]
        # The cause, not only the URL ccxt names.
        assert "Cannot connect to host 127.0.0.1" in warning, warning
        assert "retrying at" in warning
        sent = time.monotonic()
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=STOP_LIMIT_SECONDS * 4)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert took < STOP_LIMIT_SECONDS, f"took {took:.1f} s to stop"
    assert "(stopped early)" in stdout
    events = asyncio.run(_events(f"sqlite:///{tmp_path / 'data' / 'trading.db'}"))
    assert {"run_started", "run_stopped", "run_finished"} <= set(events)
