"""Broker port. Only trading_core.execution may call ``submit`` (tests enforce it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from trading_core.domain.base import Frozen
from trading_core.domain.fill import Fill
from trading_core.domain.market import Quote
from trading_core.domain.order import Order


class BrokerReport(Frozen):
    """What a broker said about an order: its new state and any executions that came with it."""

    order: Order
    fills: tuple[Fill, ...] = ()


class Broker(Protocol):
    name: str

    async def submit(self, order: Order) -> BrokerReport:
        """Send a new order. Never retried automatically by callers."""
        ...

    async def cancel(self, order_id: str) -> BrokerReport: ...

    async def find_by_client_id(self, client_order_id: str) -> Order | None:
        """Look an order up by client id (how an UNKNOWN submit is resolved)."""
        ...

    async def on_quote(self, quote: Quote) -> Sequence[BrokerReport]:
        """Feed a market update; returns reports for resting orders that executed."""
        ...

    async def open_orders(self) -> Sequence[Order]: ...
