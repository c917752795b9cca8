"""`trading-core run --live` as a person starts it: a real subprocess against the Kraken fake.

The fake serves on 127.0.0.1 from this test's event loop; the command reaches it through
``TRADING_KRAKEN__API_URL``, with the fake's keys, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest

from trading_core.adapters.clock import SystemClock
from trading_core.domain.signal import DecisionType
from trading_core.domain.state import TradingState
from trading_core.execution.kraken_broker import KRAKEN_ACCOUNT
from trading_core.execution.trading_state import STATE_KEY
from trading_core.settings import PACKAGED_CONFIG_DIR
from trading_core.storage.factory import open_store

from .conftest import FAST
from .ib_fake import ACCOUNT as IB_ACCOUNT_ID
from .ib_fake import IbGatewayFake
from .kraken_fake import API_KEY, API_SECRET, KrakenFake

REQ_HISTORICAL_DATA = 20
"""TWS API ``reqHistoricalData`` (ib_async's client.py)."""

STARTUP_SECONDS = 60


def _env(tmp_path: Path, kraken: KrakenFake) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_")}
    return {
        **env,
        "TRADING_CONFIG_DIR": str(PACKAGED_CONFIG_DIR),
        "TRADING_DATA_DIR": str(tmp_path / "data"),
        "TRADING_MODE": "live",
        "TRADING_KRAKEN__API_URL": kraken.url,
        "TRADING_KRAKEN__API_KEY": API_KEY,
        "TRADING_KRAKEN__API_SECRET": API_SECRET,
        "TRADING_KRAKEN__RATE_LIMIT_MS": str(FAST),
        "TRADING_KRAKEN__DEAD_MAN_SECONDS": "60",
    }


LAUNCHED: list[asyncio.subprocess.Process] = []


@pytest.fixture(autouse=True)
async def _no_run_left_behind() -> AsyncIterator[None]:
    """A failed assertion must not leave a live run polling in the background."""
    yield
    while LAUNCHED:
        process = LAUNCHED.pop()
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _start(tmp_path: Path, kraken: KrakenFake) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trading_core.cli",
        "run",
        "--live",
        "--source",
        "kraken",
        "--symbols",
        "BTC/USD",
        "--quiet",
        cwd=tmp_path,
        env=_env(tmp_path, kraken),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    LAUNCHED.append(process)
    return process


async def _cli(tmp_path: Path, kraken: KrakenFake, *args: str) -> None:
    """A person's `trading-core ARGS` in another terminal; it must succeed."""
    person = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trading_core.cli",
        *args,
        cwd=tmp_path,
        env=_env(tmp_path, kraken),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(person.communicate(), timeout=STARTUP_SECONDS)
    assert person.returncode == 0, err.decode()


async def _until(
    condition: Callable[[], bool], process: asyncio.subprocess.Process, what: str
) -> None:
    """Wait for ``condition()`` while the process lives (a dead process fails at once)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_SECONDS
    while not condition():
        if process.returncode is not None:
            out, err = await process.communicate()
            raise AssertionError(f"exited {process.returncode}: {err.decode()}{out.decode()}")
        assert loop.time() < deadline, f"not seen within {STARTUP_SECONDS} s: {what}"
        await asyncio.sleep(0.1)


async def test_a_live_run_reconciles_at_start_refuses_a_mismatch_and_trades_once_a_person_adopts(
    tmp_path: Path, kraken: KrakenFake
) -> None:
    kraken.balances["XXBT"] = Decimal("0.5")  # held before the first start: adopted
    process = await _start(tmp_path, kraken)

    def trading() -> bool:
        # Armed only after the start-up reconciliation passed; candles asked for after that.
        armed = [c for c in kraken.calls("CancelAllOrdersAfter") if c["timeout"] != "0"]
        return bool(armed) and bool(kraken.calls("OHLC"))

    await _until(trading, process, "the switch armed and candles polled")
    assert kraken.calls("BalanceEx"), "reconciliation read the balances before arming"
    process.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    summary = out.decode()
    # 100 000 USD and 0.5 BTC at the ticker's 40 000: the opening equity is the venue's.
    assert "equity         : 120000.00 -> " in summary, summary
    assert kraken.calls("CancelAllOrdersAfter")[-1]["timeout"] == "0"  # disarmed on the way out

    store = await open_store(f"sqlite:///{tmp_path / 'data' / 'trading.db'}", clock=SystemClock())
    try:
        passes = [
            d
            for d in await store.list_decisions()
            if d.decision_type is DecisionType.RECONCILIATION
        ]
        assert len(passes) == 1
        assert passes[0].symbol == "*"
        positions = await store.list_positions(account=KRAKEN_ACCOUNT)
        assert [(p.symbol, p.quantity) for p in positions] == [("BTC/USD", Decimal("0.5"))]
    finally:
        await store.close()

    # Someone sells 0.3 BTC on Kraken's site while nothing runs: the next start refuses.
    kraken.balances["XXBT"] = Decimal("0.2")
    again = await _start(tmp_path, kraken)
    out, err = await asyncio.wait_for(again.communicate(), timeout=STARTUP_SECONDS)
    assert again.returncode == 2, out.decode()
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, err.decode()
    assert "BTC/USD" in lines[0]
    assert "trading refused" in lines[0]
    assert not kraken.calls("AddOrder")  # nothing was ever sent
    store = await open_store(f"sqlite:///{tmp_path / 'data' / 'trading.db'}", clock=SystemClock())
    try:
        state = await store.get_state(STATE_KEY)
        assert state is not None
        assert state["state"] == TradingState.REDUCING
        passes = [
            d
            for d in await store.list_decisions()
            if d.decision_type is DecisionType.RECONCILIATION
        ]
        assert [p.final_action.split(":")[0] for p in passes] == ["reconciled", "mismatch"]
    finally:
        await store.close()

    # A person accepts Kraken's 0.2 BTC and lifts the reduction: the next start trades again.
    await _cli(tmp_path, kraken, "state", "adopt-venue", "--reason", "sold 0.3 on kraken.com")
    await _cli(tmp_path, kraken, "state", "resume", "--reason", "books checked")
    arms_before = len(kraken.calls("CancelAllOrdersAfter"))
    third = await _start(tmp_path, kraken)
    await _until(
        lambda: len(kraken.calls("CancelAllOrdersAfter")) > arms_before, third, "switch armed"
    )
    assert not kraken.calls("CancelAll")
    # A kill from another terminal reaches Kraken within seconds, not at the next candle.
    await _cli(tmp_path, kraken, "kill-switch", "activate", "--reason", "drill")
    await _until(lambda: bool(kraken.calls("CancelAll")), third, "the kill's CancelAll")
    third.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(third.communicate(), timeout=60)
    assert third.returncode == 0, err.decode()
    assert "equity         : 108000.00 -> " in out.decode()  # 100 000 + 0.2 x 40 000
    store = await open_store(f"sqlite:///{tmp_path / 'data' / 'trading.db'}", clock=SystemClock())
    try:
        positions = await store.list_positions(account=KRAKEN_ACCOUNT)
        assert [(p.symbol, p.quantity) for p in positions] == [("BTC/USD", Decimal("0.2"))]
        state = await store.get_state(STATE_KEY)
        assert state is not None
        assert state["state"] == TradingState.KILLED
        events = [e.event_type for e in await store.list_events()]
        assert "reconciliation.adopt_requested" in events
    finally:
        await store.close()


async def test_a_live_run_on_an_ib_paper_account_opens_its_book_from_the_gateway(
    tmp_path: Path,
) -> None:
    gateway = IbGatewayFake()
    gateway.positions["GOOG"] = Decimal("10")
    gateway.cash["USD"] = Decimal("100000")
    await gateway.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_")}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "trading_core.cli",
            "run",
            "--live",
            "--source",
            "ib",
            "--symbols",
            "GOOG",
            "--quiet",
            cwd=tmp_path,
            env={
                **env,
                "TRADING_CONFIG_DIR": str(PACKAGED_CONFIG_DIR),
                "TRADING_DATA_DIR": str(tmp_path / "data"),
                "TRADING_MODE": "live",
                "TRADING_IB__PORT": str(gateway.port),
                "TRADING_IB__ACCOUNT": IB_ACCOUNT_ID,
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        LAUNCHED.append(process)
        # Candles are asked for once the start-up reconciliation has passed.
        await _until(lambda: bool(gateway.calls(REQ_HISTORICAL_DATA)), process, "IB candles")
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        await gateway.stop()
    assert process.returncode == 0, err.decode()
    # 100 000 USD and 10 GOOG at IB's last 175.25: the book is the gateway's.
    assert "equity         : 101752.50 -> " in out.decode(), out.decode()
    store = await open_store(f"sqlite:///{tmp_path / 'data' / 'trading.db'}", clock=SystemClock())
    try:
        positions = await store.list_positions(account="ib")
        passes = [
            d
            for d in await store.list_decisions()
            if d.decision_type is DecisionType.RECONCILIATION
        ]
    finally:
        await store.close()
    assert [(p.symbol, p.quantity) for p in positions] == [("GOOG", Decimal("10"))]
    assert [p.final_action for p in passes] == ["reconciled"]
