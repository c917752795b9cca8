"""The live order path: Kraken through ccxt, the books reconciled before the first order.

Built like the paper path (:mod:`trading_core.execution.assembly`), with what a real account adds:
the book opened from the store's positions and the venue's cash, the start-up reconciliation
(which raises :class:`~trading_core.execution.reconciliation.ReconciliationFailed` rather than
let a run trade on books that disagree with the venue), and the venue's global cancel as the kill
switch's first action.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from trading_core.domain.base import ZERO
from trading_core.domain.errors import ConfigurationError
from trading_core.instruments import InstrumentRegistry
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.bus import Bus
from trading_core.ports.clock import Clock
from trading_core.ports.metrics import MetricsSink
from trading_core.ports.store import Store
from trading_core.risk.risk_config import RiskLimits
from trading_core.settings import Settings

from .kraken_broker import KRAKEN_ACCOUNT, KrakenBroker, trading_exchange
from .order_service import OrderService
from .quotes import QuoteBook
from .reconciliation import Reconciler
from .trading_state import STATE_KEY, TradingStateService


@dataclass(frozen=True, slots=True)
class LiveExecution:
    broker: KrakenBroker
    quotes: QuoteBook
    state: TradingStateService
    orders: OrderService
    reconciler: Reconciler


async def open_kraken_execution(
    settings: Settings,
    *,
    store: Store,
    bus: Bus,
    clock: Clock,
    instruments: InstrumentRegistry,
    symbols: Sequence[str],
    ledger: PortfolioLedger,
    risk_limits: RiskLimits,
    metrics: MetricsSink,
    run_id: str,
) -> LiveExecution:
    """Kraken, the shared trading state, the order service and a passed start-up reconciliation.

    The caller wires the kill switch (``orders.wire_kill_switch``) after this returns; the
    venue's global cancel is registered here, first, so it runs before anything else.
    """
    off_venue = [s for s in symbols if instruments.get(s).broker != KrakenBroker.name]
    if off_venue:
        raise ConfigurationError(
            f"live trading sends orders to Kraken only; {', '.join(off_venue)} "
            "trade elsewhere (not available live yet)"
        )
    kraken = settings.kraken
    assert kraken.api_key is not None
    assert kraken.api_secret is not None
    broker = KrakenBroker(
        trading_exchange(
            kraken.api_key.get_secret_value(),
            kraken.api_secret.get_secret_value(),
            api_url=kraken.api_url,
            rate_limit_ms=kraken.rate_limit_ms,
        ),
        clock,
        poll_interval=timedelta(seconds=kraken.poll_seconds),
    )
    try:
        # One trading state for paper and live: a person's kill switch stops both.
        state = await TradingStateService.load(
            store=store,
            bus=bus,
            clock=clock,
            gauge=metrics,
            key=STATE_KEY,
            breaker_limits=risk_limits.breakers,
        )
        state.on_kill(broker.cancel_everything)
        positions = {p.symbol: p for p in await store.list_positions(account=KRAKEN_ACCOUNT)}
        ledger.open_book(cash=ZERO, positions=positions, marks={}, at=clock.now())
        # The stored positions include every stored fill: none may be applied on top again.
        ledger.mark_applied(f.fill_id for f in await store.list_fills(account=KRAKEN_ACCOUNT))
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
            account=KRAKEN_ACCOUNT,
        )
        await orders.restore()
        reconciler = Reconciler(
            venue=broker,
            orders=orders,
            store=store,
            state=state,
            clock=clock,
            instruments=instruments,
            symbols=symbols,
            ledger=ledger,
            policy=settings.reconciliation,
            run_id=run_id,
        )
        await reconciler.at_start()
    except BaseException:
        await broker.close()
        raise
    return LiveExecution(
        broker=broker, quotes=quotes, state=state, orders=orders, reconciler=reconciler
    )
