"""The paper order path a process trades through: broker, trading state, order service.

``trading-core run`` and the MCP/CLI services (``services.container.open_app``) build it the same
way, here, so a control added to one (breaker thresholds, the persisted execution latch) cannot
be forgotten in the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from trading_core.domain.order import PAPER_ACCOUNT
from trading_core.execution.order_service import OrderService
from trading_core.execution.paper_broker import PaperBroker
from trading_core.execution.quotes import QuoteBook
from trading_core.execution.trading_state import TradingStateService
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
) -> PaperExecution:
    """The paper broker, the restored trading state and the order service over them.

    The caller wires the kill switch (``orders.wire_kill_switch``): what runs before a flatten
    depends on the process.
    """
    broker = PaperBroker(
        clock,
        seed=settings.seed,
        slippage_bps=settings.paper.slippage_bps,
        commission_bps=settings.paper.commission_bps,
        max_participation=settings.paper.max_participation,
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
    )
    await orders.restore()
    return PaperExecution(broker=broker, quotes=quotes, state=state, orders=orders)
