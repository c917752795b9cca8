"""The paper order path a process trades through: broker, trading state, order service.

``trading-core run`` and the MCP/CLI services (``services.container.open_app``) build it the same
way, here, so a control added to one (breaker thresholds, the persisted execution latch) cannot
be forgotten in the other.
"""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass

from trading_core.domain.order import PAPER_ACCOUNT, Order
from trading_core.execution.order_service import BookSync, OrderService
from trading_core.execution.paper_broker import PaperBroker, paper_order_owner
from trading_core.execution.quotes import QuoteBook
from trading_core.execution.trading_state import STATE_KEY, TradingStateService
from trading_core.instruments import InstrumentRegistry
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.bus import Bus
from trading_core.ports.clock import Clock
from trading_core.ports.metrics import MetricsSink
from trading_core.ports.store import Store
from trading_core.risk.risk_config import RiskLimits
from trading_core.settings import Settings


@dataclass(frozen=True, slots=True)
class PaperExecution:
    broker: PaperBroker
    quotes: QuoteBook
    state: TradingStateService
    orders: OrderService
    lease: AsyncExitStack
    """Holds the process lease of the shared paper account: close it when the process ends."""

    async def close(self) -> None:
        """Release the lease: this broker's resting orders are then known to be gone."""
        await self.orders.close()
        await self.lease.aclose()


async def open_paper_execution(
    settings: Settings,
    *,
    store: Store,
    bus: Bus,
    clock: Clock,
    instruments: InstrumentRegistry,
    ledger: PortfolioLedger,
    risk_limits: RiskLimits,
    metrics: MetricsSink,
    state_key: str,
    account: str = PAPER_ACCOUNT,
    book_sync: BookSync | None = None,
) -> PaperExecution:
    """The paper broker, the restored trading state and the order service over them.

    The caller wires the kill switch (``orders.wire_kill_switch``): what runs before a flatten
    depends on the process, and calls :meth:`PaperExecution.close` at the end.

    On the shared paper account (``state_key`` is :data:`STATE_KEY`) the broker's orders carry
    a process lease: another process finding one whose process died settles it (a paper broker's
    resting orders live in its memory and die with it), instead of counting it against the caps
    for ever.
    """
    lease = AsyncExitStack()
    owner: str | None = None
    owner_alive = None
    if state_key == STATE_KEY:
        owner = uuid.uuid4().hex[:12]
        await lease.enter_async_context(store.process_lease(owner))

        async def owner_alive(order: Order) -> bool:
            if order.broker != broker.name:
                return True  # not a paper broker's: its own venue says (reconciliation)
            holder = paper_order_owner(order)
            return holder is not None and await store.lease_alive(holder)

    try:
        broker = PaperBroker(
            clock,
            seed=settings.seed,
            slippage_bps=settings.paper.slippage_bps,
            commission_bps=settings.paper.commission_bps,
            max_participation=settings.paper.max_participation,
            owner=owner,
        )
        state = await TradingStateService.load(
            store=store,
            bus=bus,
            clock=clock,
            gauge=metrics,
            key=state_key,
            breaker_limits=risk_limits.breakers,
        )
        quotes = QuoteBook()
        orders = OrderService(
            broker=broker,
            store=store,
            clock=clock,
            instruments=instruments,
            ledger=ledger,
            quotes=quotes,
            state=state,
            risk_limits=risk_limits,
            metrics=metrics,
            account=account,
            book_sync=book_sync,
            owner_alive=owner_alive,
        )
        await orders.restore()
    except BaseException:
        await lease.aclose()  # a start that failed holds no lease
        raise
    return PaperExecution(broker=broker, quotes=quotes, state=state, orders=orders, lease=lease)
