"""Tools port: how the orchestrator places and cancels orders, whatever carries the call.

Two implementations answer it the same way: in-process (``services.tools_inprocess``, straight
to the trading desk) and over MCP (``mcp_servers.tools_client``, the ``place_order``,
``cancel_order`` and ``list_orders`` tools). The messages live here, with the port, so the
orchestrator, the desk and the MCP servers share one vocabulary; they are the ``place_order``
tool's arguments and result (**contract**: fields may be added, never renamed or removed).

An implementation reports a refused order as a result (status ``rejected`` with its violations),
never as an exception; it raises ``TradingError`` (with the stable code) only when the request
itself could not be carried out (an unknown order id to cancel, a server that failed).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from pydantic import Field

from trading_core.domain.base import Frozen, PositiveDecimal
from trading_core.domain.fill import Fill
from trading_core.domain.order import Order, OrderType, Side, TimeInForce
from trading_core.risk.controls import Violation

REASON_MAX_LENGTH = 500
"""The longest ``reason`` a ticket carries (longer explanations belong in the audit row)."""


class OrderTicket(Frozen):
    """What a caller asks for (the ``place_order`` arguments)."""

    symbol: str = Field(min_length=1, max_length=32)
    side: Side
    quantity: PositiveDecimal
    order_type: OrderType = OrderType.LIMIT
    limit_price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    client_order_id: str | None = Field(default=None, min_length=1, max_length=64)
    strategy_id: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=REASON_MAX_LENGTH)


class PlaceStatus(StrEnum):
    FILLED = "filled"
    ACCEPTED = "accepted"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


class PlaceResult(Frozen):
    """The outcome of one order request, as callers see it."""

    status: PlaceStatus
    client_order_id: str
    symbol: str
    order: Order | None = None
    fills: list[Fill] = Field(default_factory=list)
    violations: list[Violation] = Field(default_factory=list)
    approval_id: str | None = None
    approval_expires_at: str | None = None
    duplicate: bool = False
    notional: Decimal | None = None
    reference_price: Decimal | None = None
    message: str = ""


class Tools(Protocol):
    """The order capabilities the orchestrator uses (one call per decision, never per tick)."""

    async def place_order(self, ticket: OrderTicket) -> PlaceResult:
        """Place ``ticket`` after every guardrail; a refusal is a ``rejected`` result."""
        ...

    async def cancel_order(self, order_id: str) -> Order:
        """Cancel one working order (never blocked by risk or throttles); returns it as it ends."""
        ...

    async def open_orders(self, symbol: str) -> list[Order]:
        """The working orders in ``symbol``, oldest first."""
        ...
