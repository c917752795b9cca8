"""`--tools mcp` over real streamable HTTP: the same decisions, and an outage that refuses.

A replay's orders go to the suite served by uvicorn on a local port (as ``mcp-suite --transport
http`` serves it: bearer tokens, the rate limit) with the trading-core token, through
:class:`ReconnectingMcpTools`. The suite is built on the run's own services, so the decisions
can be compared row for row with the in-process tools; then it is restarted between calls
(invisible: a lost session is reconnected and the request sent again), and stopped for a while
(each decision meanwhile is refused with TOOLS_UNAVAILABLE, nothing is sent, and trading picks
up again once it is back).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from mcp_servers.runtime import Runtime
from mcp_servers.tools_client import app_for_run
from mcp_servers.tools_http import ReconnectingMcpTools, reconnecting_tools
from trading_core.domain.errors import ToolsUnavailableError
from trading_core.domain.order import Order
from trading_core.domain.signal import DecisionType
from trading_core.orchestrator.runner import RunServices, ToolsFactory
from trading_core.ports.tools import OrderTicket, PlaceResult, Tools
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings, load_settings
from trading_core.storage.factory import open_store

from .served_suite import AUTONOMOUS_TOKEN, ServedSuite
from .test_tools_parity import BARS, DATA, MARKET, canonical, outcomes, replay, replay_settings

# The autonomous loop calls a few times a bar; a replay runs thousands of bars a second.
HTTP = {
    "mcp": {
        "tokens": {"trading-core": AUTONOMOUS_TOKEN},
        "requests_per_second": 100_000,
        "burst": 100_000,
    }
}


@pytest.fixture
def market() -> Path:
    if not DATA.is_file():
        pytest.skip(f"shared market data not found at {DATA}")
    return MARKET


@dataclass
class Disruption:
    """What happens to the suite while the run calls it (counted in ``place_order`` calls)."""

    restart_every: int | None = None
    """Restart the suite after every N-th placement (between two calls)."""
    down_after: int | None = None
    """Stop the suite after the N-th placement ..."""
    down_for: int = 0
    """... for this many tool calls, then start it again."""
    calls_while_down: int = 0
    connects: int = 0
    suites: list[ServedSuite] = field(default_factory=list)


class DisruptedTools:
    """Forwards to the reconnecting tools, stopping and starting the suite as planned."""

    def __init__(
        self,
        tools: ReconnectingMcpTools,
        suite: ServedSuite,
        plan: Disruption,
        advance: Callable[[float], None],
    ) -> None:
        self._tools, self._suite, self._plan, self._advance = tools, suite, plan, advance
        self._placed = 0

    async def place_order(self, ticket: OrderTicket) -> PlaceResult:
        await self._before_call()
        result = await self._tools.place_order(ticket)
        self._placed += 1
        plan = self._plan
        if plan.restart_every and self._placed % plan.restart_every == 0:
            await self._suite.stop()
            await self._suite.start()
        if plan.down_after == self._placed:
            await self._suite.stop()
        return result

    async def cancel_order(self, order_id: str) -> Order:
        await self._before_call()
        return await self._tools.cancel_order(order_id)

    async def open_orders(self, symbol: str) -> list[Order]:
        await self._before_call()
        return await self._tools.open_orders(symbol)

    async def _before_call(self) -> None:
        plan = self._plan
        if self._suite.up:
            return
        if plan.calls_while_down == plan.down_for:
            await self._suite.start()
            self._advance(3600)  # past any backoff: the next call reconnects
            return
        plan.calls_while_down += 1


def served_tools(plan: Disruption) -> ToolsFactory:
    """A run's tools: the suite on the run's services over HTTP, disrupted as ``plan`` says."""

    @asynccontextmanager
    async def factory(services: RunServices) -> AsyncIterator[Tools]:
        app = app_for_run(services)
        suite = ServedSuite(lambda: Runtime.for_app(app), services.settings)
        plan.suites.append(suite)
        await suite.start()
        now = [0.0]

        def connect() -> Client[Any]:
            plan.connects += 1
            return suite.client()

        def advance(seconds: float) -> None:
            now[0] += seconds

        tools = reconnecting_tools(services, connect, where=suite.url, monotonic=lambda: now[0])
        await tools.open()
        try:
            yield DisruptedTools(tools, suite, plan, advance)
        finally:
            await tools.close()
            await suite.stop()

    return factory


def http_settings(data_dir: Path, **overrides: Any) -> Settings:
    return replay_settings(data_dir, **HTTP, **overrides)


def served_settings(data_dir: Path) -> Settings:
    """A suite of its own on the synthetic feed (no data file needed), with the HTTP token."""
    return load_settings(config_dir=PACKAGED_CONFIG_DIR, data_dir=data_dir, **HTTP)


async def events(settings: Settings, event_type: str) -> list[str]:
    store = await open_store(settings.database_url)
    try:
        return [e.message for e in await store.list_events(event_type=event_type)]
    finally:
        await store.close()


@pytest.mark.parametrize("variant", ["fills", "thin-liquidity"])
async def test_a_replay_over_http_decides_exactly_as_in_process(
    market: Path, tmp_path: Path, variant: str
) -> None:
    overrides = {"thin-liquidity": {"paper": {"max_participation": "0.003"}}}.get(variant, {})
    local = await replay(http_settings(tmp_path / "in-process", **overrides))
    plan = Disruption()
    remote = await replay(http_settings(tmp_path / "http", **overrides), served_tools(plan))

    assert len(local.decisions) == BARS
    assert [canonical(d) for d in remote.decisions] == [canonical(d) for d in local.decisions]
    assert remote.fills == local.fills
    assert remote.orders == local.orders
    assert outcomes(remote) == outcomes(local)
    assert local.fills, "the comparison needs orders that fill"
    # Every placement crossed HTTP: the suite audited each as trading-core (channel mcp).
    sent = [d for d in local.decisions if d.risk_check.get("status")]
    placed = [
        row
        for row in remote.desk_rows
        if row.decision_type not in {DecisionType.CANCEL, DecisionType.APPROVAL_OUTCOME}
    ]
    assert len(placed) == len(sent)
    assert {row.principal for row in placed} == {"trading-core"}
    assert plan.connects == 1


async def test_a_suite_restarted_between_calls_changes_nothing(
    market: Path, tmp_path: Path
) -> None:
    local = await replay(http_settings(tmp_path / "in-process"))
    plan = Disruption(restart_every=3)
    settings = http_settings(tmp_path / "http")
    remote = await replay(settings, served_tools(plan))

    assert plan.suites[0].starts > 3, "the suite was restarted several times"
    assert [canonical(d) for d in remote.decisions] == [canonical(d) for d in local.decisions]
    assert remote.fills == local.fills
    assert remote.orders == local.orders
    # Requests of the current protocol era carry no session, so a restart between calls costs
    # no reconnection at all; whatever was lost is on record with its recovery.
    assert plan.connects <= plan.suites[0].starts
    lost = await events(settings, "tools.unavailable")
    assert len(lost) == len(await events(settings, "tools.restored")) == plan.connects - 1


async def test_while_the_suite_is_down_every_decision_is_refused_and_nothing_is_sent(
    market: Path, tmp_path: Path
) -> None:
    local = await replay(http_settings(tmp_path / "in-process"))
    plan = Disruption(down_after=4, down_for=5)
    settings = http_settings(tmp_path / "http")
    remote = await replay(settings, served_tools(plan))

    refused = [
        d
        for d in remote.decisions
        if any(v["code"] == "TOOLS_UNAVAILABLE" for v in d.risk_check.get("violations", []))
    ]
    assert len(refused) == plan.down_for == plan.calls_while_down
    assert all(d.decision_type is DecisionType.REJECTED for d in refused)
    assert all(d.order_id is None for d in refused)
    assert all("refused: TOOLS_UNAVAILABLE" in d.reasoning for d in refused)
    assert all("does not answer" in d.final_action for d in refused)

    # Up to the outage the run decided as in-process; the first refusal is where it began.
    first = remote.decisions.index(refused[0])
    assert [canonical(d) for d in remote.decisions[:first]] == [
        canonical(d) for d in local.decisions[:first]
    ]
    sent_before = [d for d in remote.decisions[:first] if d.order_id is not None]
    assert len(sent_before) == plan.down_after
    # Nothing was sent for the refused decisions, and trading resumed once the suite was back.
    sent_after = [d for d in remote.decisions[first:] if d.order_id is not None]
    assert sent_after
    store_ids = {o["client_order_id"] for o in remote.orders}
    assert len(store_ids) == len(sent_before) + len(sent_after)
    # Backing off: one failed connection attempt, not one per refused call; then one reconnect.
    assert plan.connects == 3
    assert plan.suites[0].starts == 2

    unavailable = await events(settings, "tools.unavailable")
    restored = await events(settings, "tools.restored")
    assert len(unavailable) == 1
    assert "stopped answering" in unavailable[0]
    assert len(restored) == 1


async def test_backoff_doubles_up_to_its_cap_and_resets_once_connected(tmp_path: Path) -> None:
    now = [0.0]
    attempts: list[float] = []
    suite_holder: list[ServedSuite] = []

    def connect() -> Client[Any]:
        attempts.append(now[0])
        return suite_holder[0].client()

    settings = served_settings(tmp_path)
    runtime = Runtime(settings)
    suite = ServedSuite(lambda: runtime, settings)
    suite_holder.append(suite)
    tools = ReconnectingMcpTools(
        connect, where=suite.url, call_timeout=5, reconnect_max=4, monotonic=lambda: now[0]
    )
    try:
        for moment in [0, 0.1, 0.5, 1.0, 1.4, 1.5, 3.4, 3.5, 7.5, 11.5]:
            now[0] = moment
            with pytest.raises(ToolsUnavailableError, match="does not answer"):
                await tools.open_orders("BTC/USD")
        # Tried at 0, then 0.5 (+0.5), 1.5 (+1), 3.5 (+2), 7.5 (+4), 11.5 (+4: the cap).
        assert attempts == [0, 0.5, 1.5, 3.5, 7.5, 11.5]
        await suite.start()
        now[0] = 100
        assert await tools.open_orders("BTC/USD") == []
        assert tools.connected
        await suite.stop()
        now[0] = 101
        with pytest.raises(ToolsUnavailableError):
            await tools.open_orders("BTC/USD")
        # Lost: reconnected at once (refused), then the first delay again, not the capped one.
        assert attempts[-1] == 101
        now[0] = 101.4
        with pytest.raises(ToolsUnavailableError, match=r"next try in 0\.1 s"):
            await tools.open_orders("BTC/USD")
    finally:
        await tools.close()
        await suite.stop()
        await runtime.close()


async def test_a_wrong_token_is_an_outage_not_a_crash(tmp_path: Path) -> None:
    settings = served_settings(tmp_path)
    runtime = Runtime(settings)
    suite = ServedSuite(lambda: runtime, settings)
    await suite.start()
    tools = ReconnectingMcpTools(
        lambda: suite.client("not-the-token"), where=suite.url, call_timeout=5, reconnect_max=1
    )
    try:
        with pytest.raises(ToolsUnavailableError) as refused:
            await tools.open()
        assert refused.value.code == "TOOLS_UNAVAILABLE"
        assert "not-the-token" not in refused.value.message
        assert AUTONOMOUS_TOKEN not in refused.value.message
        assert not tools.connected
    finally:
        await tools.close()
        await suite.stop()
        await runtime.close()
