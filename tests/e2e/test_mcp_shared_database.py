"""`trading-core run` and the MCP servers on one database see the same account and audit trail."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fastmcp import Client

from mcp_servers.runtime import Runtime
from mcp_servers.suite import build_suite
from trading_core.settings import load_settings
from trading_core.storage.factory import open_store

from .conftest import REPO, RunCli


async def _stored(database: Path) -> tuple[dict[str, Decimal], int, int]:
    store = await open_store(f"sqlite:///{database}")
    try:
        positions = {p.symbol: p.quantity for p in await store.list_positions() if p.quantity}
        return positions, len(await store.list_orders()), len(await store.list_fills())
    finally:
        await store.close()


async def test_the_servers_show_what_the_run_did(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("run", "--max-bars", "1500", "-q")
    assert result.returncode == 0, result.stderr
    database = tmp_path / "data" / "trading.db"
    positions, orders, fills = await _stored(database)
    assert fills > 0, "the run should have traded for this test to mean anything"

    settings = load_settings(config_dir=REPO / "config", data_dir=tmp_path / "data")
    runtime = Runtime(settings)
    try:
        async with Client(build_suite(runtime)) as client:
            shown = (await client.call_tool("get_positions", {})).structured_content or {}
            served = {p["symbol"]: Decimal(p["quantity"]) for p in shown["positions"]}
            listed = await client.call_tool("list_orders", {"limit": 1000})
            history = await client.call_tool("get_trade_history", {"limit": 1000})
            decisions = await client.call_tool("get_decisions", {"symbol": "BTC/USD", "limit": 5})
    finally:
        await runtime.close()
    assert served == positions
    assert len(listed.structured_content["orders"]) == orders
    assert len(history.structured_content["fills"]) == fills
    rows = decisions.structured_content["decisions"]
    assert rows
    assert all(row["principal"] == "trading-core" for row in rows)
