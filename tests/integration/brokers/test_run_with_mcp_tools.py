"""`trading-core run --tools mcp` as a person starts it, beside a real `mcp-suite --transport http`.

Both are subprocesses on one SQLite data directory, paper trading Kraken's prices from the Kraken
fake (served from this test's event loop). What can go wrong at start is one line and exit 2:
no suite listening, a token the suite refuses, a suite pricing from another feed. Once started,
the run survives the suite going away (its decisions would be refused, never guessed) and stops
cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from trading_core.adapters.clock import SystemClock
from trading_core.settings import PACKAGED_CONFIG_DIR
from trading_core.storage.factory import open_store

from .conftest import FAST
from .kraken_fake import KrakenFake

SUITE = Path(sys.executable).parent / "mcp-suite"
TOKEN = "run-through-mcp-token"
STARTUP_SECONDS = 60
LAUNCHED: list[asyncio.subprocess.Process] = []


@pytest.fixture(autouse=True)
async def _nothing_left_behind() -> AsyncIterator[None]:
    if not SUITE.is_file():
        pytest.skip(f"console script {SUITE} not installed (run `uv sync`)")
    yield
    while LAUNCHED:
        process = LAUNCHED.pop()
        if process.returncode is None:
            process.kill()
            await process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(tmp_path: Path, kraken: KrakenFake, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_")}
    return {
        **env,
        "TRADING_CONFIG_DIR": str(PACKAGED_CONFIG_DIR),
        "TRADING_DATA_DIR": str(tmp_path / "data"),
        "TRADING_SYMBOLS": '["BTC/USD"]',
        "TRADING_KRAKEN__API_URL": kraken.url,
        "TRADING_KRAKEN__RATE_LIMIT_MS": str(FAST),
        "TRADING_MCP__TOKENS__TRADING_CORE": TOKEN,
        **extra,
    }


async def _suite(tmp_path: Path, kraken: KrakenFake, port: int, source: str) -> None:
    process = await asyncio.create_subprocess_exec(
        str(SUITE),
        "--transport",
        "http",
        "--port",
        str(port),
        cwd=tmp_path,
        env=_env(tmp_path, kraken, TRADING_SOURCE=source),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    LAUNCHED.append(process)
    deadline = asyncio.get_running_loop().time() + STARTUP_SECONDS
    while True:
        assert process.returncode is None, f"mcp-suite exited with {process.returncode}"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            assert asyncio.get_running_loop().time() < deadline, "mcp-suite did not listen"
            await asyncio.sleep(0.2)
            continue
        writer.close()
        await writer.wait_closed()
        return


async def _run(
    tmp_path: Path, kraken: KrakenFake, port: int, **extra: str
) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trading_core.cli",
        "run",
        "--source",
        "kraken",
        "--tools",
        "mcp",
        "--mcp-url",
        f"http://127.0.0.1:{port}/mcp",
        "--quiet",
        cwd=tmp_path,
        env=_env(tmp_path, kraken, **extra),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    LAUNCHED.append(process)
    return process


async def _refused(process: asyncio.subprocess.Process) -> str:
    out, err = await asyncio.wait_for(process.communicate(), timeout=STARTUP_SECONDS)
    assert process.returncode == 2, (out + err).decode()
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, err.decode()
    assert TOKEN not in err.decode()
    return lines[0]


async def test_nothing_listening_is_refused_at_start_in_one_line(
    tmp_path: Path, kraken: KrakenFake
) -> None:
    port = _free_port()
    line = await _refused(await _run(tmp_path, kraken, port))
    assert f"127.0.0.1:{port}/mcp does not answer" in line
    assert "mcp-suite --transport http" in line


async def test_a_token_the_suite_refuses_is_named_at_start(
    tmp_path: Path, kraken: KrakenFake
) -> None:
    port = _free_port()
    await _suite(tmp_path, kraken, port, source="kraken")
    run = await _run(tmp_path, kraken, port, TRADING_MCP__TOKENS__TRADING_CORE="wrong-token")
    line = await _refused(run)
    assert "refused the trading-core token (HTTP 401)" in line
    assert "wrong-token" not in line


async def test_a_suite_pricing_another_market_is_refused_at_start(
    tmp_path: Path, kraken: KrakenFake
) -> None:
    port = _free_port()
    await _suite(tmp_path, kraken, port, source="synthetic")
    line = await _refused(await _run(tmp_path, kraken, port))
    assert "prices BTC/USD from 'synthetic" in line
    assert "TRADING_SOURCE=kraken" in line


async def test_a_run_through_the_suite_starts_outlives_the_suite_and_stops_cleanly(
    tmp_path: Path, kraken: KrakenFake
) -> None:
    port = _free_port()
    await _suite(tmp_path, kraken, port, source="kraken")
    suite = LAUNCHED[-1]
    run = await _run(tmp_path, kraken, port)

    store = await open_store(f"sqlite:///{tmp_path / 'data' / 'trading.db'}", clock=SystemClock())
    try:
        await store.upgrade()  # whichever process comes first creates the tables
        deadline = asyncio.get_running_loop().time() + STARTUP_SECONDS
        while not await store.list_events(event_type="run_started"):
            if run.returncode is not None:
                out, err = await run.communicate()
                pytest.fail(f"run exited {run.returncode}: {(err + out).decode()}")
            assert asyncio.get_running_loop().time() < deadline, "the run never started"
            await asyncio.sleep(0.2)
        # It checked the suite's market before trading: a quote asked of the suite, as trading-core.
        assert kraken.calls("Ticker") or kraken.calls("OHLC")

        suite.terminate()
        await suite.wait()
        await asyncio.sleep(2)
        assert run.returncode is None, "the run must not end because the suite went away"

        run.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(run.communicate(), timeout=STARTUP_SECONDS)
        assert run.returncode == 0, err.decode()
        assert "bars processed" in out.decode(), out.decode()
        assert [e.event_type for e in await store.list_events(event_type="run_finished")]
    finally:
        await store.close()
