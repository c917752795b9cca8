"""What a real venue shows of the account, for reconciliation against the books.

A broker that trades a real account (Kraken, IB) implements this besides
:class:`~trading_core.ports.broker.Broker`: the venue's open orders (every one, ours or not), its
balances, and a way to follow an order the current process did not send (one from before a
restart, or one adopted from the venue).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from trading_core.domain.base import Frozen
from trading_core.domain.order import Order, OrderType, Side
from trading_core.ports.broker import Broker, BrokerReport


class VenueOrder(Frozen):
    """An open order as the venue lists it."""

    broker_order_id: str
    venue_client_id: str | None
    """The client id the venue holds (for Kraken, the ``cl_ord_id`` derived from ours)."""
    symbol: str
    side: Side
    quantity: Decimal
    filled_quantity: Decimal
    order_type: OrderType
    limit_price: Decimal | None
    opened_at: datetime


class VenueAccount(Broker, Protocol):
    """A broker over a real account: open orders, balances and following known orders."""

    def venue_client_id(self, client_order_id: str) -> str:
        """The client id the venue keeps for our ``client_order_id``."""
        ...

    async def venue_open_orders(self) -> Sequence[VenueOrder]:
        """Every open order at the venue, including ones this system never sent."""
        ...

    async def balances(self) -> Mapping[str, Decimal]:
        """Total balance per currency code (``BTC``, ``USD``), exact."""
        ...

    async def last_price(self, symbol: str) -> Decimal:
        """The venue's last trade price (values a balance adopted into the book)."""
        ...

    def track(self, order: Order, *, commission_booked: Decimal = ...) -> None:
        """Follow ``order`` (known from the store or adopted) as if this process had sent it.

        ``commission_booked``: the order's fees the book already holds (not charged again).
        """
        ...

    async def refresh(self, order: Order) -> BrokerReport:
        """``order`` as the venue has it now, with the executions the book does not have yet."""
        ...

    async def cancel_venue_order(self, order: VenueOrder) -> None:
        """Cancel an open order at the venue that the book does not hold."""
        ...
