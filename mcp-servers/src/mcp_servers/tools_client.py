"""The orchestrator's ``Tools`` port over MCP: orders as ``place_order`` / ``cancel_order`` calls.

:class:`McpTools` speaks to any connected fastmcp ``Client`` (streamable HTTP in production, one
container per server; in memory for the parity test). :func:`in_memory_tools` is a
``ToolsFactory`` for ``trading_core.orchestrator.runner.run``: it serves the suite on the run's
own services (same store, order service, ledger and clock) and connects to it in memory, as
``trading-core``, so a replay decides exactly as it does with the in-process tools.

One call per order decision, never per tick: MCP costs milliseconds a call.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastmcp import Client

from trading_core.domain.errors import DataError, InstrumentNotFoundError, TradingError
from trading_core.domain.market import Bar, Quote, Timeframe
from trading_core.domain.order import Order
from trading_core.orchestrator.runner import RunServices
from trading_core.ports.clock import Clock
from trading_core.ports.tools import OrderTicket, PlaceResult, Tools
from trading_core.services.account import Account
from trading_core.services.container import TradingApp
from trading_core.services.desk import TradingDesk
from trading_core.services.limits import RiskLimitsService
from trading_core.services.loosening import register_loosening_handlers
from trading_core.services.principals import AUTONOMOUS_PRINCIPAL, Principal

from .runtime import Runtime
from .suite import build_suite

_CODED = re.compile(r"^([A-Z][A-Z0-9_]*): (.*)$", re.DOTALL)
OPEN_ORDERS_LIMIT = 1000
"""The most working orders one symbol is asked for (the tool's maximum page)."""


class McpTools:
    """Implements ``Tools`` with the trading server's tools on a connected client."""

    def __init__(self, client: Client[Any]) -> None:
        self._client = client

    @property
    def client(self) -> Client[Any]:
        return self._client

    async def place_order(self, ticket: OrderTicket) -> PlaceResult:
        arguments = ticket.model_dump(mode="json", exclude_none=True)
        return PlaceResult.model_validate(await self._call("place_order", arguments))

    async def cancel_order(self, order_id: str) -> Order:
        return Order.model_validate(await self._call("cancel_order", {"order_id": order_id}))

    async def open_orders(self, symbol: str) -> list[Order]:
        listed = await self._call(
            "list_orders", {"symbol": symbol, "open_only": True, "limit": OPEN_ORDERS_LIMIT}
        )
        orders = [Order.model_validate(item) for item in listed["orders"]]
        # The tool lists newest first; the port promises oldest first (ties by client id).
        return sorted(orders, key=lambda o: (o.created_at, o.client_order_id))

    async def _call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self._client.call_tool(tool, arguments, raise_on_error=False)
        if result.is_error:
            raise _error(tool, result.content)
        if not isinstance(result.structured_content, dict):
            raise TradingError(f"{tool} returned no structured result", code="INTERNAL_ERROR")
        return result.structured_content


def _error(tool: str, content: Sequence[Any]) -> TradingError:
    """The tool's ``CODE: message`` as the TradingError the in-process tools would raise."""
    text = next((str(block.text) for block in content if hasattr(block, "text")), "")
    coded = _CODED.match(text)
    if coded is None:
        return TradingError(f"{tool} failed: {text or 'no message'}", code="TOOL_ERROR")
    return TradingError(coded.group(2), code=coded.group(1))


@asynccontextmanager
async def in_memory_tools(services: RunServices) -> AsyncIterator[Tools]:
    """``ToolsFactory``: the suite on ``services``, reached in memory as ``trading-core``."""
    autonomous = Principal.for_token_name(AUTONOMOUS_PRINCIPAL)
    runtime = Runtime.for_app(app_for_run(services), principal=autonomous)
    async with Client(build_suite(runtime)) as client:
        yield McpTools(client)


def app_for_run(services: RunServices) -> TradingApp:
    """A :class:`TradingApp` over a run's own services, for servers acting on that very run.

    The run drives it (quotes, breakers, the day's roll) and closes it; serve it with
    :meth:`Runtime.for_app`. Its feed answers from the quotes the run has seen and the bars it
    has written; its desk audits each request it serves (channel ``mcp``), like any server.
    """
    account = Account(
        services.store,
        services.instruments,
        currency=services.currency,
        initial_cash=services.initial_cash,
        name=services.orders.account,
    )
    # The run's ledger, not a second one: the servers must see the positions the run trades.
    account.ledger = services.ledger
    limits = RiskLimitsService(services.store, services.risk_limits, clock=services.clock)
    desk = TradingDesk(
        orders=services.orders,
        approvals=services.approvals,
        store=services.store,
        clock=services.clock,
        mode=services.settings.mode,
        policy=services.settings.approvals,
        channel="mcp",
    )
    register_loosening_handlers(
        services.approvals, state=services.state, limits=limits, orders=services.orders
    )
    return TradingApp(
        settings=services.settings,
        clock=services.clock,
        store=services.store,
        bus=services.bus,
        instruments=services.instruments,
        feed=RunFeed(services),
        limits=limits,
        account=account,
        broker=services.broker,
        state=services.state,
        orders=services.orders,
        approvals=services.approvals,
        desk=desk,
        metrics=services.metrics,
    )


class RunFeed:
    """A ``MarketFeed`` over a run: its latest quotes and the bars it has written so far.

    The run writes bars in batches, so ``history`` may lag the run by up to one batch.
    """

    name = "run"

    def __init__(self, services: RunServices) -> None:
        self._services = services

    def symbols(self) -> Sequence[str]:
        return list(self._services.symbols)

    @property
    def timeframe(self) -> Timeframe:
        return self._services.timeframe

    @property
    def clock(self) -> Clock:
        return self._services.clock

    async def history(self, symbol: str) -> list[Bar]:
        self._require(symbol)
        return await self._services.store.get_bars(
            symbol, self.timeframe, limit=self._services.settings.mcp.history_bars
        )

    async def latest_quote(self, symbol: str) -> Quote:
        self._require(symbol)
        quote = self._services.quotes.get(symbol)
        if quote is None:
            raise DataError(f"no quote for {symbol} yet: the run has not reached its first bar")
        return quote

    async def close(self) -> None:
        """Nothing to release: the run owns what this reads."""

    def _require(self, symbol: str) -> None:
        if symbol not in self._services.symbols:
            raise InstrumentNotFoundError(
                f"symbol {symbol!r} is not traded by this run ({', '.join(self.symbols())})"
            )
