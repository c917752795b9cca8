"""The Tools port in-process: straight to this process's trading desk (backtests, embedded runs).

Orders go through the same desk the MCP ``place_order`` tool uses, as the autonomous principal,
so the same approval policy applies (an order above the autonomous budget waits for a person).
The desk writes no audit row of its own here: the orchestrator records each decision once,
with the signal and the reasoning behind it.
"""

from __future__ import annotations

from datetime import timedelta

from trading_core.domain.order import Order
from trading_core.execution.order_service import OrderService
from trading_core.ports.clock import Clock
from trading_core.ports.store import Store
from trading_core.ports.tools import OrderTicket, PlaceResult
from trading_core.settings import ApprovalSettings, Mode

from .approvals import ApprovalService
from .desk import TradingDesk
from .principals import AUTONOMOUS_PRINCIPAL, Principal

AUTONOMOUS = Principal.for_token_name(AUTONOMOUS_PRINCIPAL)
ORCHESTRATOR_CHANNEL = "orchestrator"
"""How the desk names this entry point where it does audit (orders a person approves later)."""


class InProcessTools:
    """Implements ``Tools`` over a :class:`TradingDesk` and its order service."""

    def __init__(
        self, desk: TradingDesk, orders: OrderService, *, principal: Principal = AUTONOMOUS
    ) -> None:
        self._desk = desk
        self._orders = orders
        self._principal = principal

    @classmethod
    def over(
        cls,
        orders: OrderService,
        *,
        store: Store,
        clock: Clock,
        approvals: ApprovalService | None = None,
        mode: Mode = Mode.PAPER,
        policy: ApprovalSettings | None = None,
    ) -> InProcessTools:
        """Tools over ``orders`` with a desk of their own (the default policy unless given)."""
        policy = policy or ApprovalSettings()
        desk = TradingDesk(
            orders=orders,
            approvals=approvals
            or ApprovalService(store, clock, ttl=timedelta(seconds=policy.ttl_seconds)),
            store=store,
            clock=clock,
            mode=mode,
            policy=policy,
            channel=ORCHESTRATOR_CHANNEL,
        )
        return cls(desk, orders)

    async def place_order(self, ticket: OrderTicket) -> PlaceResult:
        return await self._desk.place(ticket, by=self._principal, audit=False)

    async def cancel_order(self, order_id: str) -> Order:
        return await self._desk.cancel(order_id, by=self._principal, audit=False)

    async def open_orders(self, symbol: str) -> list[Order]:
        return sorted(self._orders.open_orders(symbol), key=_age)


def _age(order: Order) -> tuple[object, ...]:
    # Oldest first, as the port promises; the client id breaks ties deterministically.
    return (order.created_at, order.client_order_id)
