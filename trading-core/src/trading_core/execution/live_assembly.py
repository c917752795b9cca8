"""The live order path: Kraken (ccxt) or Interactive Brokers (ib_async), the books reconciled
before the first order.

Built like the paper path (:mod:`trading_core.execution.assembly`), with what a real account adds:
the book opened from the store's positions and the venue's cash, the start-up reconciliation
(which raises :class:`~trading_core.execution.reconciliation.ReconciliationFailed` rather than
let a run trade on books that disagree with the venue), and the venue's global cancel as the kill
switch's first action. On IB a dropped connection puts the account in REDUCING (the watchdog):
orders already fail closed while it is down, and a person lifts it once the books are checked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from trading_core.domain.base import ZERO
from trading_core.domain.errors import ConfigurationError
from trading_core.domain.state import Severity, SystemEvent
from trading_core.instruments import InstrumentRegistry
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.bus import Bus
from trading_core.ports.clock import Clock
from trading_core.ports.metrics import MetricsSink
from trading_core.ports.store import Store
from trading_core.ports.venue import VenueAccount
from trading_core.risk.risk_config import RiskLimits
from trading_core.settings import Settings, SourceKind

from .firm_view import FirmView
from .order_service import OrderService
from .quotes import QuoteBook
from .reconciliation import Reconciler
from .trading_state import STATE_KEY, TradingStateService

if TYPE_CHECKING:
    from .kraken_broker import KrakenBroker

WATCHDOG = "ib.watchdog"


class LiveVenue(VenueAccount, Protocol):
    """What a live run needs of its venue besides reconciliation."""

    async def cancel_everything(self) -> None:
        """Cancel every open order on the account, ours or not (the kill switch)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LiveExecution:
    broker: LiveVenue
    quotes: QuoteBook
    state: TradingStateService
    orders: OrderService
    reconciler: Reconciler
    dead_man_switch: Callable[[timedelta], Awaitable[object]] | None
    """The venue's cancel-everything-unless-refreshed timer (Kraken's); IB has none."""


async def open_live_execution(
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
    ib: Any = None,
) -> LiveExecution:
    """The venue ``settings.source`` names, the shared trading state, the order service and a
    passed start-up reconciliation.

    ``ib`` is the ``ib_async.IB`` the run's IB market data shares (one connection to the
    gateway); a new one when None. The caller wires the kill switch
    (``orders.wire_kill_switch``) after this returns; the venue's global cancel is registered
    here, first, so it runs before anything else.
    """
    venue_name = "ib" if settings.source is SourceKind.IB else "kraken"
    off_venue = [s for s in symbols if instruments.get(s).broker != venue_name]
    if off_venue:
        raise ConfigurationError(
            f"this live run sends orders to {venue_name} only; {', '.join(off_venue)} "
            f"trade elsewhere (one venue per live run)"
        )
    # One trading state for paper and live: a person's kill switch stops both.
    state = await TradingStateService.load(
        store=store,
        bus=bus,
        clock=clock,
        gauge=metrics,
        key=STATE_KEY,
        breaker_limits=risk_limits.breakers,
    )
    broker: LiveVenue
    dead_man: Callable[[timedelta], Awaitable[object]] | None
    if settings.source is SourceKind.IB:
        broker, account = await _ib_broker(settings, clock, state, ib, metrics)
        dead_man = None
    else:
        kraken = _kraken_broker(settings, clock)
        broker, account, dead_man = kraken, kraken.name, kraken.arm_dead_man_switch
    try:
        state.on_kill(broker.cancel_everything)
        positions = {p.symbol: p for p in await store.list_positions(account=account)}
        ledger.open_book(cash=ZERO, positions=positions, marks={}, at=clock.now())
        # The stored positions include every stored fill: none may be applied on top again.
        ledger.mark_applied(f.fill_id for f in await store.list_fills(account=account))
        quotes = QuoteBook()
        firm = FirmView(
            store=store,
            clock=clock,
            instruments=instruments,
            account=account,
            settings=settings.firm,
        )
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
            firm=firm,
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
        await orders.publish_snapshot()  # the other venues' runs count this book from now on
    except BaseException:
        await broker.close()
        raise
    return LiveExecution(
        broker=broker,
        quotes=quotes,
        state=state,
        orders=orders,
        reconciler=reconciler,
        dead_man_switch=dead_man,
    )


def _kraken_broker(settings: Settings, clock: Clock) -> KrakenBroker:
    from .kraken_broker import KrakenBroker, trading_exchange

    kraken = settings.kraken
    if kraken.api_key is None or kraken.api_secret is None:
        raise ConfigurationError("live trading on Kraken needs its API key and secret")
    return KrakenBroker(
        trading_exchange(
            kraken.api_key.get_secret_value(),
            kraken.api_secret.get_secret_value(),
            api_url=kraken.api_url,
            rate_limit_ms=kraken.rate_limit_ms,
        ),
        clock,
        poll_interval=timedelta(seconds=kraken.poll_seconds),
    )


async def _ib_broker(
    settings: Settings, clock: Clock, state: TradingStateService, ib: Any, metrics: MetricsSink
) -> tuple[LiveVenue, str]:
    # Imported here: ib_async is only needed by a run that trades IB.
    from .ib_broker import IB_ACCOUNT, IbBroker

    broker_name = IbBroker.name  # the metric's label

    async def lost(reason: str) -> None:
        metrics.set_broker_connected(broker_name, False)
        await state.reduce(reason=f"IB connection lost: {reason}", by=WATCHDOG)
        await state.alert(
            _watchdog_event(clock, Severity.CRITICAL, f"IB connection lost: {reason}")
        )

    async def restored() -> None:
        metrics.set_broker_connected(broker_name, True)
        await state.alert(
            _watchdog_event(
                clock,
                Severity.WARNING,
                "IB connection restored; trading stays reduced to closing orders until a "
                "person runs `trading-core state resume`",
            )
        )

    config = settings.ib
    broker = IbBroker(
        clock,
        ib=ib,
        host=config.host,
        port=config.port,
        client_id=config.client_id,
        account=config.account,
        connect_attempts=config.connect_attempts,
        on_connection_lost=lost,
        on_connection_restored=restored,
    )
    await broker.connect()  # BrokerError (one line) when the gateway cannot be reached
    return broker, IB_ACCOUNT


def _watchdog_event(clock: Clock, severity: Severity, message: str) -> SystemEvent:
    return SystemEvent(
        timestamp=clock.now(),
        event_type="broker.connection",
        component=WATCHDOG,
        severity=severity,
        message=message,
    )
