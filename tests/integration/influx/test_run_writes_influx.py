"""`trading-core run` with ``TRADING_INFLUX__URL`` set: the command as a user runs it, writing
its bars, equity, fills and decisions to a local InfluxDB 2 write endpoint."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

from trading_core.adapters.influx import nanoseconds
from trading_core.domain.order import replay_account
from trading_core.settings import PACKAGED_CONFIG_DIR
from trading_core.storage.factory import open_store

from .influx_fake import InfluxFake

BARS = 150
SYMBOLS = ("BTC/USD", "ETH/USD")  # the packaged synthetic market


async def _run(tmp_path: Path, **influx: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_")}
    env |= {
        "TRADING_CONFIG_DIR": str(PACKAGED_CONFIG_DIR),
        "TRADING_DATA_DIR": str(tmp_path / "data"),
        **{f"TRADING_INFLUX__{key.upper()}": value for key, value in influx.items()},
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "trading_core.cli", "run", "--max-bars", str(BARS), "-q"),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _run_id(stdout: str) -> str:
    match = re.search(r"^run ([0-9a-f]{32})", stdout, re.MULTILINE)
    assert match, stdout
    return match.group(1)


async def test_a_run_writes_bars_equity_fills_and_decisions(
    influx: InfluxFake, tmp_path: Path
) -> None:
    code, out, err = await _run(
        tmp_path, url=influx.url, token=influx.token, flush_seconds="0.2", batch_size="100"
    )
    assert code == 0, err
    run_id = _run_id(out)
    store = await open_store(f"sqlite:///{tmp_path / 'data' / 'trading.db'}")
    try:
        decisions = await store.list_decisions(run_id=run_id)
        fills = await store.list_fills(account=replay_account(run_id))
    finally:
        await store.close()

    assert all(r.status == 204 for r in influx.requests)
    assert all(len(r.lines) <= 100 for r in influx.requests)  # batched, never one request
    assert len(influx.requests) > 1

    bars = influx.measurement("bars")
    assert len(bars) == BARS * len(SYMBOLS)
    assert {(b["tags"]["symbol"], b["tags"]["timeframe"]) for b in bars} == {
        (s, "5m") for s in SYMBOLS
    }
    assert all(b["fields"]["low"] <= b["fields"]["close"] <= b["fields"]["high"] for b in bars)

    written = Counter(
        (d["tags"]["decision_type"], d["tags"]["symbol"]) for d in influx.measurement("decisions")
    )
    assert written == Counter((str(d.decision_type), d.symbol) for d in decisions)
    assert all(d["fields"] == {"count": 1} for d in influx.measurement("decisions"))

    assert fills, "the synthetic run trades"
    written_fills = influx.measurement("fills")
    assert sorted(f["fields"]["fill_id"] for f in written_fills) == sorted(f.fill_id for f in fills)
    by_id = {f.fill_id: f for f in fills}
    for point in written_fills:
        fill = by_id[point["fields"]["fill_id"]]
        assert point["tags"] == {
            "symbol": fill.symbol,
            "side": str(fill.side),
            "account": replay_account(run_id),
        }
        assert Decimal(str(point["fields"]["price"])) == fill.price
        assert Decimal(str(point["fields"]["quantity"])) == fill.quantity
        assert point["time"] >= nanoseconds(fill.timestamp)

    equity = influx.measurement("equity")
    assert len(equity) == BARS  # one per slice of two bars
    assert {e["tags"]["account"] for e in equity} == {replay_account(run_id)}
    assert equity[0]["fields"]["equity"] == equity[0]["fields"]["cash"] == 100_000
    last = equity[-1]["fields"]
    assert 0 <= last["drawdown_ratio"] < 0.15
    assert re.search(rf"equity\s*: 100000\.00 -> {last['equity']:.2f} USD", out), out


async def test_a_dead_influxdb_leaves_the_run_and_its_decisions_alone(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    quiet = tmp_path / "plain"
    quiet.mkdir()
    code, plain_out, err = await _run(quiet)
    assert code == 0, err
    code, out, err = await _run(tmp_path, url=dead, token="t", flush_seconds="0.1")
    assert code == 0, err
    summary = re.compile(r"^  (decisions|orders|fills|equity) .*$", re.MULTILINE)
    assert [m.group(0) for m in summary.finditer(out)] == [
        m.group(0) for m in summary.finditer(plain_out)
    ]
    assert "InfluxDB write" in err  # said once, in the log
    assert err.count("(connection)") == 1
