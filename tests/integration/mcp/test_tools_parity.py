"""One orchestrator, two transports: a replay decides the same through MCP as in-process.

Each replay is ``trading_core.orchestrator.runner.run`` over a real file, once with the
in-process tools and once with ``McpTools`` over fastmcp's in-memory client, connected to the
suite built on that run's own services. The audit rows and fills must match apart from ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from mcp_servers.runtime import Runtime
from mcp_servers.suite import build_suite
from mcp_servers.tools_client import McpTools, in_memory_tools
from trading_core.domain.errors import TradingError
from trading_core.domain.order import OrderStatus, Side
from trading_core.domain.signal import Decision, DecisionType
from trading_core.orchestrator.runner import ToolsFactory, run
from trading_core.ports.tools import OrderTicket, PlaceStatus
from trading_core.services.principals import AUTONOMOUS_PRINCIPAL, Principal, PrincipalKind
from trading_core.services.tools_inprocess import InProcessTools
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings, load_settings
from trading_core.storage.factory import open_store

from .conftest import REPO

MARKET = REPO.parent / "shared" / "data" / "market"
DATA = MARKET / "ETH_BTC-5m.feather"
BARS = 1000
RUN_ID = "7a" * 16
AUTONOMOUS = Principal.for_token_name(AUTONOMOUS_PRINCIPAL)
COMMITTEE = [
    "trend_hunter",
    "mean_reversion",
    "breakout_hunter",
    "volatility_filter",
    "liquidity_surfer",
    "sentiment_scout",
]

# Each variant drives a different path through the tools: fills; thin liquidity (partial fills
# rest, so the next decision lists and cancels them); no autonomous budget (every entry waits
# for a person); and a committee (regimes, filters, long reasonings).
VARIANTS: dict[str, dict[str, Any]] = {
    "fills": {},
    "thin-liquidity": {"paper": {"max_participation": "0.003"}},
    "no-budget": {"approvals": {"autonomous_budget_notional": "0"}},
    "committee": {"agent": {"committee": COMMITTEE, "entry_threshold": 0.3}},
}


@dataclass(frozen=True)
class Replayed:
    decisions: list[Decision]
    """The run's own rows (run_id set), in the order they were written."""
    desk_rows: list[Decision]
    """Rows the trading desk wrote itself (a server auditing the requests it served)."""
    fills: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    approvals: int


@pytest.fixture
def market() -> Path:
    if not DATA.is_file():
        pytest.skip(f"shared market data not found at {DATA}")
    return MARKET


def replay_settings(data_dir: Path, **overrides: Any) -> Settings:
    return load_settings(
        config_dir=PACKAGED_CONFIG_DIR,
        data_dir=data_dir,
        source="replay",
        data=[DATA],
        max_bars=BARS,
        **overrides,
    )


async def replay(
    settings: Settings, tools: ToolsFactory | None = None, run_id: str = RUN_ID
) -> Replayed:
    await run(settings, run_id=run_id, tools=tools)
    store = await open_store(settings.database_url)
    try:
        rows = await store.list_decisions()
        fills = await store.list_fills()
        orders = await store.list_orders(limit=10_000)
        approvals = await store.list_approvals()
    finally:
        await store.close()
    return Replayed(
        decisions=[row for row in rows if row.run_id == run_id],
        desk_rows=[row for row in rows if row.run_id is None],
        fills=[f.model_dump(mode="json", exclude={"fill_id", "order_id"}) for f in fills],
        orders=sorted(
            (
                o.model_dump(mode="json", include={"client_order_id", "side", "quantity"})
                | {"status": str(o.status), "filled": str(o.filled_quantity)}
                for o in orders
            ),
            key=lambda o: str(o["client_order_id"]),
        ),
        approvals=len(approvals),
    )


def outcomes(replayed: Replayed) -> list[tuple[str, str, str]]:
    """How each approval of a replay ended: (time, symbol, status), without the random ids."""
    return [
        (row.timestamp.isoformat(), row.symbol, str(row.risk_check["status"]))
        for row in replayed.desk_rows
        if row.decision_type is DecisionType.APPROVAL_OUTCOME
    ]


def canonical(decision: Decision) -> dict[str, Any]:
    """A decision without what differs by nature between runs: ids and the wall clock."""
    row = decision.model_dump(mode="json", exclude={"id", "recorded_at", "order_id", "run_id"})
    row["risk_check"] = {k: v for k, v in row["risk_check"].items() if k != "approval_id"}
    return row


def digest(decisions: list[Decision]) -> str:
    text = json.dumps([canonical(d) for d in decisions], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_the_same_replay_through_mcp_decides_exactly_as_in_process(
    market: Path, tmp_path: Path, variant: str
) -> None:
    overrides = VARIANTS[variant]
    local = await replay(replay_settings(tmp_path / "in-process", **overrides))
    remote = await replay(replay_settings(tmp_path / "mcp", **overrides), in_memory_tools)

    assert len(local.decisions) == BARS
    assert [canonical(d) for d in remote.decisions] == [canonical(d) for d in local.decisions]
    assert remote.fills == local.fills
    assert remote.orders == local.orders
    assert remote.approvals == local.approvals
    # An order row points at the order each transport created (same client id, other uuid).
    for ours, theirs in zip(local.decisions, remote.decisions, strict=True):
        assert (ours.order_id is None) == (theirs.order_id is None)

    # The requests really crossed MCP: the server audited each one it served, as trading-core,
    # while the in-process desk left the audit to the orchestrator (one row per decision).
    # The orchestrator's cancels of its own resting orders too, as `cancel` rows.
    # Approvals that ended (nobody approves in a replay: they expire) are rows on both sides.
    sent = [d for d in local.decisions if d.risk_check.get("status")]
    ended = DecisionType.APPROVAL_OUTCOME
    assert outcomes(local) == outcomes(remote)
    assert [row for row in local.desk_rows if row.decision_type is not ended] == []
    served = [row for row in remote.desk_rows if row.decision_type is not ended]
    placed = [row for row in served if row.decision_type is not DecisionType.CANCEL]
    cancels = [row for row in served if row.decision_type is DecisionType.CANCEL]
    assert len(placed) == len(sent)
    assert all(row.principal == AUTONOMOUS_PRINCIPAL for row in served)
    assert all(row.reasoning.startswith("trading-core via mcp: ") for row in placed)
    assert all(row.reasoning == "trading-core: cancel via mcp" for row in cancels)
    assert all(row.order_id for row in cancels)

    # Each variant reached the path it exists for (else the comparison above proves little).
    kinds = {d.decision_type for d in local.decisions}
    statuses = {str(o["status"]) for o in local.orders}
    if variant == "fills":
        assert {DecisionType.ENTRY, DecisionType.EXIT} <= kinds
        assert local.fills
    elif variant == "thin-liquidity":
        assert OrderStatus.CANCELLED.value in statuses
        assert cancels  # a remainder still resting when the next decision came was cancelled
    elif variant == "no-budget":
        queued = [d for d in local.decisions if d.decision_type is DecisionType.APPROVAL]
        assert queued
        assert local.approvals == len(queued)
        assert local.orders == []
        assert all(d.risk_check["status"] == PlaceStatus.PENDING_APPROVAL for d in queued)
        assert all("waits for a person" in d.reasoning for d in queued)
        assert {status for _, _, status in outcomes(local)} == {"expired"}
    else:
        assert any("regime " in d.reasoning for d in local.decisions)
        assert DecisionType.ENTRY in kinds


async def test_two_in_process_replays_hash_the_same(market: Path, tmp_path: Path) -> None:
    settings = replay_settings(tmp_path / "data", paper={"max_participation": "0.003"})
    first = await replay(settings, run_id="1" * 32)
    second = await replay(settings, run_id="2" * 32)  # same database: it sees the first's rows
    assert len(first.decisions) == len(second.decisions) == BARS
    assert any(d.order_id for d in first.decisions)
    assert digest(first.decisions) == digest(second.decisions)
    # The digest is not blind: one changed word in one row changes it.
    changed = [*first.decisions]
    changed[-1] = changed[-1].model_copy(update={"reasoning": changed[-1].reasoning + "."})
    assert digest(changed) != digest(first.decisions)


# --- the pieces: errors, open orders, the fixed principal --------------------------------------

RESTING = OrderTicket(
    symbol="BTC/USD",
    side=Side.BUY,
    quantity=Decimal("0.01"),
    limit_price=Decimal(39_000),  # below the synthetic market (~39 540): it rests
    client_order_id="parity-resting-1",
    strategy_id="parity",
    reason="a resting order",
)


async def test_a_tool_error_arrives_as_the_same_coded_error_as_in_process(
    client: Client[Any], runtime: Runtime
) -> None:
    app = await runtime.app()
    with pytest.raises(TradingError) as local:
        await InProcessTools(app.desk, app.orders).cancel_order("no-such-order")
    with pytest.raises(TradingError) as remote:
        await McpTools(client).cancel_order("no-such-order")
    assert remote.value.code == local.value.code == "ORDER_NOT_FOUND"
    assert remote.value.message == local.value.message


async def test_open_orders_over_mcp_are_the_working_ones_only(client: Client[Any]) -> None:
    tools = McpTools(client)
    placed = await tools.place_order(RESTING)
    assert placed.status is PlaceStatus.ACCEPTED, placed
    assert placed.order is not None
    working = await tools.open_orders("BTC/USD")
    assert [o.order_id for o in working] == [placed.order.order_id]
    assert await tools.open_orders("ETH/USD") == []
    cancelled = await tools.cancel_order(placed.order.order_id)
    assert cancelled.status is OrderStatus.CANCELLED
    assert await tools.open_orders("BTC/USD") == []
    listed = await client.call_tool("list_orders", {"status": "sent", "open_only": True})
    assert listed.structured_content == {"orders": []}
    everything = await client.call_tool("list_orders", {"open_only": False})
    assert everything.structured_content is not None
    assert len(everything.structured_content["orders"]) == 1


async def test_a_runtime_principal_places_as_that_principal_in_memory(
    settings: Settings, clock: Any, mode: str
) -> None:
    runtime = Runtime(settings, clock=clock, principal=AUTONOMOUS)
    try:
        async with Client(build_suite(runtime), mode=mode) as client:
            placed = await McpTools(client).place_order(RESTING)
        assert placed.status is PlaceStatus.ACCEPTED, placed
        app = await runtime.app()
        rows = await app.store.list_decisions()
        assert [row.principal for row in rows] == [AUTONOMOUS_PRINCIPAL]
        assert rows[0].reasoning == "trading-core via mcp: a resting order"
    finally:
        await runtime.close()


async def test_without_a_runtime_principal_the_caller_is_the_local_assistant(
    client: Client[Any], runtime: Runtime
) -> None:
    await McpTools(client).place_order(RESTING)
    rows = await (await runtime.app()).store.list_decisions()
    assert [row.principal for row in rows] == ["assistant:local"]


def test_a_runtime_refuses_a_person_as_its_fixed_principal(
    settings_factory: Callable[..., Settings],
) -> None:
    person = Principal(name="alice", kind=PrincipalKind.HUMAN)
    with pytest.raises(ValueError, match="cannot be a person"):
        Runtime(settings_factory(), principal=person)
