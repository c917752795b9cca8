"""`trading-core run` and the MCP servers on one database: one audit trail, separate books.

A replay (synthetic or file data) trades a book of its own; the paper account the tools show
and trade is never touched by it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from fastmcp import Client

from mcp_servers.runtime import Runtime
from mcp_servers.suite import build_suite
from trading_core.domain.order import PAPER_ACCOUNT, replay_account
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings
from trading_core.storage.factory import open_store

from .conftest import RunCli


async def _stored(database: Path, account: str) -> tuple[dict[str, Decimal], int, int]:
    store = await open_store(f"sqlite:///{database}")
    try:
        positions = {
            p.symbol: p.quantity for p in await store.list_positions(account=account) if p.quantity
        }
        orders = await store.list_orders(account=account)
        return positions, len(orders), len(await store.list_fills(account=account))
    finally:
        await store.close()


async def test_the_servers_show_the_runs_decisions_but_not_its_replayed_book(
    run_cli: RunCli, tmp_path: Path
) -> None:
    result = run_cli("run", "--max-bars", "1500", "-q")
    assert result.returncode == 0, result.stderr
    run_id = re.search(r"^run ([0-9a-f]{32})", result.stdout, re.MULTILINE)
    assert run_id, result.stdout
    database = tmp_path / "data" / "trading.db"
    _, orders, fills = await _stored(database, replay_account(run_id.group(1)))
    assert fills > 0, "the run should have traded for this test to mean anything"
    assert orders > 0
    assert await _stored(database, PAPER_ACCOUNT) == ({}, 0, 0)

    settings = load_settings(config_dir=PACKAGED_CONFIG_DIR, data_dir=tmp_path / "data")
    runtime = Runtime(settings)
    try:
        async with Client(build_suite(runtime)) as client:
            shown = (await client.call_tool("get_positions", {})).structured_content or {}
            listed = await client.call_tool("list_orders", {"limit": 1000})
            history = await client.call_tool("get_trade_history", {"limit": 1000})
            summary = await client.call_tool("get_portfolio_summary", {})
            decisions = await client.call_tool("get_decisions", {"symbol": "BTC/USD", "limit": 5})
    finally:
        await runtime.close()
    # The replay's fills and positions are its own: the paper account is untouched.
    assert [p for p in shown["positions"] if Decimal(p["quantity"])] == []
    assert listed.structured_content["orders"] == []
    assert history.structured_content["fills"] == []
    assert Decimal(summary.structured_content["equity"]) == settings.initial_cash["USD"]
    # Its decisions are audit: shown, and labelled with the run that made them.
    rows = decisions.structured_content["decisions"]
    assert rows
    assert all(row["principal"] == "trading-core" for row in rows)
    assert {row["run_id"] for row in rows} == {run_id.group(1)}
