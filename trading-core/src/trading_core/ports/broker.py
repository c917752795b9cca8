"""Broker port. Only trading_core.execution may call ``submit`` (tests enforce it)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

from trading_core.domain.base import Frozen
from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar, Quote
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


@runtime_checkable
class BarMarket(Protocol):
    """A simulated venue that executes against whole bars, not only quotes (paper, replays).

    Quotes alone lose a bar's range: a resting limit the bar traded through would not fill,
    and two quotes per bar would offer its volume twice.
    """

    async def open_bar(
        self, quote: Quote, *, known_volume: Decimal | None
    ) -> Sequence[BrokerReport]:
        """The bar opens at ``quote``; ``known_volume`` is the last volume known then."""
        ...

    async def close_bar(self, bar: Bar, quote: Quote) -> Sequence[BrokerReport]:
        """The bar is complete: its range and volume are known; ``quote`` is at its close."""
        ...
