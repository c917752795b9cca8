"""Wiring of the live account for the MCP servers and the CLI: settings in, services out.

With nothing configured this is the embedded default: the SQLite file under ``data/``, the
in-process bus, the paper broker and an offline feed (synthetic, or a replay of files). The
store is the truth: on every :meth:`TradingApp.refresh` the app adopts what other processes on
the same database did (a person's kill switch, a limit changed, fills of ``trading-core run``).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from trading_core.adapters.bus_factory import open_bus
from trading_core.adapters.clock import SystemClock
from trading_core.adapters.metrics import Metrics
from trading_core.execution.assembly import open_paper_execution
from trading_core.execution.order_service import OrderService
from trading_core.execution.trading_state import STATE_KEY, TradingStateService
from trading_core.instruments import InstrumentRegistry
from trading_core.marketdata.feed import MarketFeed, build_feed
from trading_core.orchestrator.runner import account_currency, read_risk_limits
from trading_core.ports.broker import Broker
from trading_core.ports.bus import Bus
from trading_core.ports.clock import Clock
from trading_core.ports.store import Store
from trading_core.settings import Settings, refuse_live_mode
from trading_core.storage.factory import open_store

from .account import Account
from .approvals import ApprovalService
from .desk import TradingDesk
from .limits import RiskLimitsService
from .loosening import register_loosening_handlers


@dataclass
class TradingApp:
    """Every service of one process's view of the account; build with :func:`open_app`."""

    settings: Settings
    clock: Clock
    store: Store
    bus: Bus
    instruments: InstrumentRegistry
    feed: MarketFeed
    limits: RiskLimitsService
    account: Account
    broker: Broker
    state: TradingStateService
    orders: OrderService
    approvals: ApprovalService
    desk: TradingDesk
    metrics: Metrics
    lease: AsyncExitStack = field(default_factory=AsyncExitStack)
    """This process's paper lease (see ``open_paper_execution``), released by :meth:`close`."""
    _fed: dict[str, datetime] = field(default_factory=dict)
    _session_day: date | None = None

    async def refresh(self) -> None:
        """Adopt changes from the store and the feed; run the breakers (fail closed)."""
        await self.state.refresh()
        self.orders.update_limits(await self.limits.reload())
        await self.account.sync()
        await self.sync_quotes()
        today = self.clock.now().date()
        if self._session_day is not None and today != self._session_day:
            self.account.ledger.roll_day()
        self._session_day = today
        portfolio = self.account.portfolio
        await self.state.evaluate(lambda: (portfolio.daily_pnl_pct, portfolio.drawdown_pct))

    async def sync_quotes(self) -> None:
        """Feed each new quote to the broker (resting orders may fill) and mark positions."""
        for symbol in self.feed.symbols():
            quote = await self.feed.latest_quote(symbol)
            if self._fed.get(symbol) != quote.timestamp:
                # Each quote reaches the broker once: a resting order must not fill again on
                # the same liquidity just because a tool was called twice.
                self._fed[symbol] = quote.timestamp
                await self.orders.on_quote(quote)
            if self.account.counts(symbol):
                self.account.ledger.mark(symbol, quote.last, quote.timestamp)

    async def close(self) -> None:
        await self.lease.aclose()
        await self.feed.close()
        await self.bus.close()
        await self.store.close()


def preflight(settings: Settings) -> None:
    """What a server checks before it serves: live mode, the instrument list, the risk limits.

    A server that started and then failed every call would look healthy to its client; this
    makes it refuse at start with one line instead.
    """
    refuse_live_mode(settings)
    InstrumentRegistry.from_file(settings.symbols_file)
    read_risk_limits(settings.risk_limits_file)


async def open_app(settings: Settings, *, channel: str, clock: Clock | None = None) -> TradingApp:
    """Open the store, bus and feed named by ``settings`` and wire the services on them.

    Raises :class:`ConfigurationError` for anything wrong in the configuration, before any
    write. ``channel`` names the entry point in the audit trail (``mcp``, ``cli``).
    """
    refuse_live_mode(settings)
    clock = clock or SystemClock()
    instruments = InstrumentRegistry.from_file(settings.symbols_file)
    configured_limits = read_risk_limits(settings.risk_limits_file)
    feed = build_feed(settings, instruments, clock)
    clock = feed.clock  # a replay runs on market time: orders and risk see the replayed moment
    currency = account_currency(settings, instruments, list(feed.symbols()))
    store = await open_store(settings.database_url, clock=clock)
    try:
        await store.upgrade()
        bus = await open_bus(settings.redis_url, clock)
    except BaseException:
        await store.close()
        await feed.close()
        raise
    metrics = Metrics()
    limits = RiskLimitsService(store, configured_limits, clock=clock)
    account = Account(
        store, instruments, currency=currency, initial_cash=settings.initial_cash[currency]
    )
    execution = await open_paper_execution(
        settings,
        store=store,
        bus=bus,
        clock=clock,
        instruments=instruments,
        ledger=account.ledger,
        risk_limits=configured_limits,
        metrics=metrics,
        state_key=STATE_KEY,
        book_sync=account.sync,  # under the order gate: a run's fills count against the caps
    )
    broker, state, orders = execution.broker, execution.state, execution.orders
    approvals = ApprovalService(store, clock, ttl=timedelta(seconds=settings.approvals.ttl_seconds))
    desk = TradingDesk(
        orders=orders,
        approvals=approvals,
        store=store,
        clock=clock,
        mode=settings.mode,
        policy=settings.approvals,
        channel=channel,
    )
    register_loosening_handlers(approvals, state=state, limits=limits, orders=orders)
    app = TradingApp(
        settings=settings,
        clock=clock,
        store=store,
        bus=bus,
        instruments=instruments,
        feed=feed,
        limits=limits,
        account=account,
        broker=broker,
        state=state,
        orders=orders,
        approvals=approvals,
        desk=desk,
        metrics=metrics,
        lease=execution.lease,
    )
    # Before a flatten, adopt the fills and quotes other processes saw: the ledger and the quote
    # book of an idle process are only as fresh as its last refresh.
    orders.wire_kill_switch(
        flatten=settings.kill_switch.flatten == "all", prepare=(account.sync, app.sync_quotes)
    )
    await app.refresh()
    return app
