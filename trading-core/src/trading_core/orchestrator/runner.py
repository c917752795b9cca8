"""Wiring for `trading-core run`: settings in, a finished run (and its summary) out.

Everything that can be wrong with the input (settings, instrument list, agent name, data files,
symbols, database URL) is checked before the first row is written, so a bad start leaves nothing
half-written behind.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from trading_core.adapters.bus_factory import open_bus
from trading_core.adapters.clock import SimulatedClock, SystemClock
from trading_core.adapters.metrics import Metrics
from trading_core.domain.errors import ConfigurationError, DataError
from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar, Timeframe
from trading_core.domain.order import PAPER_ACCOUNT, replay_account
from trading_core.domain.portfolio import Portfolio
from trading_core.domain.state import Severity, SystemEvent
from trading_core.execution.assembly import open_paper_execution
from trading_core.execution.live_assembly import LiveExecution, open_live_execution
from trading_core.execution.order_service import OrderService
from trading_core.execution.quotes import QuoteBook
from trading_core.execution.trading_state import STATE_KEY, TradingStateService
from trading_core.instruments import InstrumentRegistry
from trading_core.marketdata.loaders import load_bars_frame
from trading_core.marketdata.replay import ReplaySource
from trading_core.marketdata.synthetic import SyntheticSource
from trading_core.ml.live import LiveModel
from trading_core.orchestrator.agent_setup import build_agent
from trading_core.orchestrator.influx_recorder import InfluxRecorder, influx_recording
from trading_core.orchestrator.live_upkeep import LiveUpkeep
from trading_core.orchestrator.pacing import paced
from trading_core.orchestrator.pipeline import Pipeline, PipelineConfig, PipelineStats
from trading_core.orchestrator.stoppable import until_stopped
from trading_core.orchestrator.summary import RunSummary, count
from trading_core.orchestrator.tools_choice import choose_tools
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.broker import Broker
from trading_core.ports.bus import Bus
from trading_core.ports.clock import Clock
from trading_core.ports.market_data import MarketDataSource
from trading_core.ports.store import Store
from trading_core.ports.tools import Tools
from trading_core.risk.risk_config import RiskLimits, load_risk_limits_toml
from trading_core.sentiment.setup import open_sentiment
from trading_core.services.account import Account
from trading_core.services.approvals import ApprovalService
from trading_core.services.principals import AUTONOMOUS_PRINCIPAL
from trading_core.services.tools_inprocess import InProcessTools
from trading_core.settings import Settings, SourceKind, live_switches
from trading_core.storage.factory import open_store

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SYNTHETIC_START = datetime(2024, 1, 1, tzinfo=UTC)
SYNTHETIC_START_PRICES = {"BTC/USD": Decimal(40_000), "ETH/USD": Decimal(2_500)}

ProgressCallback = Callable[[PipelineStats, datetime, int | None], None]


class RunObserver(Protocol):
    """Sees a run's bars and applied fills as they happen (a backtest keeps them for its report)."""

    def on_bar(self, bar: Bar) -> None:
        """A bar the source handed to the pipeline."""

    def on_fill(self, fill: Fill) -> None:
        """A fill the account applied (each fill once)."""


@dataclass(frozen=True, slots=True)
class RunServices:
    """The services one run wires: what a :data:`ToolsFactory` builds the run's tools on."""

    settings: Settings
    run_id: str
    clock: Clock
    store: Store
    bus: Bus
    instruments: InstrumentRegistry
    symbols: list[str]
    timeframe: Timeframe
    currency: str
    initial_cash: Decimal
    """The configured paper cash (the paper account is this plus every fill in the store)."""
    risk_limits: RiskLimits
    ledger: PortfolioLedger
    broker: Broker
    quotes: QuoteBook
    state: TradingStateService
    orders: OrderService
    approvals: ApprovalService
    metrics: Metrics
    book_sync: Callable[[], Awaitable[int]] | None = None
    """Adopts the fills other processes booked on this run's account (a live paper feed only):
    tools whose orders another process carries out call it before the run reads its book."""


ToolsFactory = Callable[[RunServices], AbstractAsyncContextManager[Tools]]
"""Opens the tools a run places orders through (open for the whole run, closed after it)."""


@asynccontextmanager
async def in_process_tools(services: RunServices) -> AsyncIterator[Tools]:
    """The default: the run's own trading desk, as the autonomous principal."""
    yield InProcessTools.over(
        services.orders,
        store=services.store,
        clock=services.clock,
        approvals=services.approvals,
        mode=services.settings.mode,
        policy=services.settings.approvals,
    )


@dataclass(frozen=True, slots=True)
class PreparedSource:
    source: MarketDataSource
    total_bars: int | None
    realtime: bool
    ib: Any = None
    """The (not yet connected) ``ib_async.IB`` an IB source reads through; the IB broker
    connects it and trades over the same connection."""


def prepare_source(
    settings: Settings,
    instruments: InstrumentRegistry,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> PreparedSource:
    """Build and validate the market data source (reads and checks replay files up front).

    ``start`` (inclusive) and ``end`` (exclusive), on the bars' open times, narrow a replay;
    an empty window is refused here, before anything is written. ``settings.max_bars`` (N) means
    N bar times for every source: at most N bars of each symbol. ``total_bars`` counts every
    symbol's bars, as the summary's "bars processed" does.
    """
    if start is not None or end is not None:
        _check_window(settings, start, end)
    if settings.source is SourceKind.REPLAY:
        return _prepare_replay(settings, instruments, start=start, end=end)
    symbols = settings.symbols or settings.synthetic.symbols
    instruments.require(symbols)
    timeframe = Timeframe(settings.synthetic.timeframe)
    if settings.source is SourceKind.IB:
        return _prepare_ib(settings, symbols, timeframe)
    if settings.source is SourceKind.KRAKEN:
        # Imported here: ccxt is large and only this source needs it.
        from trading_core.marketdata.kraken import KrakenPublicSource

        source = KrakenPublicSource(symbols, timeframe, api_url=settings.kraken.api_url)
        return PreparedSource(source, None, realtime=True)
    bars = settings.max_bars or settings.synthetic.bars
    synthetic = SyntheticSource(
        symbols,
        seed=settings.seed,
        start=SYNTHETIC_START,
        timeframe=timeframe,
        bars=bars,
        start_price={s: SYNTHETIC_START_PRICES.get(s, Decimal(100)) for s in symbols},
    )
    return PreparedSource(synthetic, bars * len(symbols), realtime=False)


def _prepare_ib(settings: Settings, symbols: list[str], timeframe: Timeframe) -> PreparedSource:
    if not settings.symbols:
        raise ConfigurationError("--source ib needs the symbols to trade: --symbols GOOG ...")
    # Imported here: ib_async is only needed by a run on IB.
    from ib_async import IB

    from trading_core.marketdata.ib import IbMarketDataSource

    ib = IB()
    return PreparedSource(IbMarketDataSource(ib, symbols, timeframe), None, realtime=True, ib=ib)


def _check_window(settings: Settings, start: datetime | None, end: datetime | None) -> None:
    if settings.source is not SourceKind.REPLAY:
        raise ConfigurationError("a --from/--to window needs replayed data (--data PATH)")
    for name, moment in (("--from", start), ("--to", end)):
        if moment is not None and moment.tzinfo is None:
            raise ConfigurationError(f"{name} {moment.isoformat()} has no time zone")
    if start is not None and end is not None and start >= end:
        raise ConfigurationError(f"--from {start.isoformat()} is not before --to {end.isoformat()}")


def _prepare_replay(
    settings: Settings,
    instruments: InstrumentRegistry,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> PreparedSource:
    if not settings.data:
        raise ConfigurationError("--source replay needs at least one --data PATH")
    loaded = [load_bars_frame(path) for path in settings.data]
    in_files = sorted(item.symbol for item in loaded)
    if settings.symbols:
        missing = sorted(set(settings.symbols) - set(in_files))
        if missing:
            raise ConfigurationError(
                f"--symbols {', '.join(missing)} not in the data files ({', '.join(in_files)})"
            )
        loaded = [item for item in loaded if item.symbol in settings.symbols]
    instruments.require(item.symbol for item in loaded)
    replay = ReplaySource(
        loaded,
        spread_bps=settings.paper.spread_bps,
        # --max-bars N is N bar times, as for synthetic data: at most N bars of each symbol.
        max_bar_times=settings.max_bars,
        start=start,
        end=end,
    )
    available = replay.bar_count
    if available == 0 and (start is not None or end is not None):
        first = min(item.frame["time"].min() for item in loaded)
        last = max(item.frame["time"].max() for item in loaded)
        raise DataError(
            f"no bars from {start.isoformat() if start else 'the start'} to "
            f"{end.isoformat() if end else 'the end'}: the data covers {first:%Y-%m-%d %H:%M} "
            f"to {last:%Y-%m-%d %H:%M} UTC"
        )
    return PreparedSource(replay, available, realtime=False)


def read_risk_limits(path: Path) -> RiskLimits:
    """The effective limits: the hard caps, tightened by ``path`` when it exists.

    The pre-trade caps are its top-level keys, the circuit breakers its ``[breakers]`` table
    (``RiskLimits.breakers``, for ``TradingStateService``). A value beyond its hard cap (a looser
    breaker) is refused here, at start-up, before anything is written.
    """
    if not path.is_file():
        return RiskLimits()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc
    try:
        return load_risk_limits_toml(text)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc.message}") from exc


def account_currency(
    settings: Settings, instruments: InstrumentRegistry, symbols: list[str]
) -> str:
    currencies = sorted({instruments.get(s).currency for s in symbols})
    if len(currencies) != 1:
        raise ConfigurationError(
            f"symbols are quoted in several currencies ({', '.join(currencies)}); "
            "run them separately (FX conversion is not supported yet)"
        )
    currency = currencies[0]
    if currency not in settings.initial_cash:
        raise ConfigurationError(
            f"no initial cash configured for {currency}: set TRADING_INITIAL_CASH__{currency}"
        )
    return currency


async def run(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    progress: ProgressCallback | None = None,
    run_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    observer: RunObserver | None = None,
    tools: ToolsFactory | None = None,
    live: bool = False,
) -> RunSummary:
    """One paper-trading run over the configured source; returns the closing summary.

    ``start``/``end`` narrow a replay (see :func:`prepare_source`); ``observer`` sees the bars
    and fills (a backtest builds its report from them). The live loop and the backtest are
    this same function. ``tools`` opens what orders go through (default
    :func:`in_process_tools`; the parity test passes MCP tools over the run's services).

    ``live`` is the second switch (``--live``): with ``TRADING_MODE=live`` as well the run trades
    Kraken, and only once the start-up reconciliation has passed; one switch alone is refused.
    """
    live = live_switches(settings, live_flag=live)
    tools = tools or choose_tools(settings, live=live)
    if settings.source is SourceKind.IB and not live:
        raise ConfigurationError(
            "--source ib trades an IB account through its gateway, a paper account "
            "(TRADING_IB__PORT=4002) as much as a real one: it takes both live switches"
        )
    instruments = InstrumentRegistry.from_file(settings.symbols_file)
    risk_limits = read_risk_limits(settings.risk_limits_file)
    agent = build_agent(settings.agent)
    sentiment = open_sentiment(settings.sentiment)  # scored before any service opens
    prepared = prepare_source(settings, instruments, start=start, end=end)
    symbols = list(prepared.source.symbols())
    currency = account_currency(settings, instruments, symbols)
    cash = settings.initial_cash[currency]
    run_id = run_id or uuid.uuid4().hex

    clock: Clock
    if prepared.realtime:
        clock = SystemClock()
        advance: Callable[[datetime], None] = lambda _moment: None  # noqa: E731
    else:
        simulated = SimulatedClock(EPOCH)
        clock = simulated
        advance = simulated.advance_to

    store = await open_store(settings.database_url, clock=clock)
    try:
        await store.upgrade()
        bus = await open_bus(settings.redis_url, clock)
        metrics = Metrics()
        server = (
            metrics.serve(settings.metrics_port, host=settings.metrics_host)
            if settings.metrics_port is not None
            else None
        )
        exits = AsyncExitStack()  # the run's tools, closed before the bus and the store
        try:
            # InfluxDB (off unless [influx] url): sees bars and fills as an observer, decisions
            # and equity through the pipeline's hooks; closed last of the exits.
            influx = await exits.enter_async_context(
                influx_recording(settings.influx, metrics.registry)
            )
            observer = _with_recorder(observer, influx)
            ledger = _ledger(Portfolio.start(cash, base_currency=currency), observer)
            book_sync = None
            if prepared.realtime and not live:
                # The paper account itself, shared with the MCP servers: its book is every fill
                # the store holds, adopted again under the order gate before each order.
                shared = Account(
                    store, instruments, currency=currency, initial_cash=cash, ledger=ledger
                )
                await shared.sync()
                ledger, book_sync = shared.ledger, shared.sync
            upkeep: LiveUpkeep | None = None
            broker: Broker
            if live:
                # The book is the venue's: opened by the start-up reconciliation, which raises
                # (and nothing trades) when the venue and the store disagree.
                opened = await open_live_execution(
                    settings,
                    store=store,
                    bus=bus,
                    clock=clock,
                    instruments=instruments,
                    symbols=symbols,
                    ledger=ledger,
                    risk_limits=risk_limits,
                    metrics=metrics,
                    run_id=run_id,
                    ib=prepared.ib,
                )
                exits.push_async_callback(opened.broker.close)
                exits.push_async_callback(opened.orders.close)
                upkeep = _live_upkeep(settings, opened, clock)
                await upkeep.start()
                exits.push_async_callback(upkeep.stop)
                broker, quotes, state, orders = (
                    opened.broker,
                    opened.quotes,
                    opened.state,
                    opened.orders,
                )
            else:
                execution = await open_paper_execution(
                    settings,
                    store=store,
                    bus=bus,
                    clock=clock,
                    instruments=instruments,
                    ledger=ledger,
                    risk_limits=risk_limits,
                    metrics=metrics,
                    state_key=STATE_KEY if prepared.realtime else f"{STATE_KEY}:replay:{run_id}",
                    # A replay trades a book of its own: the paper account the tools show is live.
                    account=PAPER_ACCOUNT if prepared.realtime else replay_account(run_id),
                    book_sync=book_sync,
                )
                exits.push_async_callback(execution.close)
                broker, quotes = execution.broker, execution.quotes
                state, orders = execution.state, execution.orders
            orders.wire_kill_switch(flatten=settings.kill_switch.flatten == "all")
            # Opened means answering: the start-up reconciliation (live) has just talked to it.
            metrics.set_broker_connected(broker.name, True)
            services = RunServices(
                settings=settings,
                run_id=run_id,
                clock=clock,
                store=store,
                bus=bus,
                instruments=instruments,
                symbols=symbols,
                timeframe=prepared.source.timeframe,
                currency=currency,
                initial_cash=cash,
                risk_limits=risk_limits,
                ledger=ledger,
                broker=broker,
                quotes=quotes,
                state=state,
                orders=orders,
                approvals=ApprovalService(
                    store, clock, ttl=timedelta(seconds=settings.approvals.ttl_seconds)
                ),
                metrics=metrics,
                book_sync=book_sync,
            )
            # What the account held when this run began: the venue's book (live), or the paper
            # account with every earlier fill (a live feed), or the configured cash (a replay).
            starting_equity = ledger.portfolio.equity
            run_tools = await exits.enter_async_context((tools or in_process_tools)(services))
            pipeline = Pipeline(
                config=PipelineConfig(
                    run_id=run_id,
                    order_fraction=settings.agent.order_fraction,
                    spread_bps=settings.paper.spread_bps,
                    source_name=prepared.source.name,
                    entry_threshold=settings.agent.entry_threshold,
                    exit_threshold=settings.agent.exit_threshold,
                ),
                clock=clock,
                advance_clock=advance,
                agent=agent,
                instruments=instruments,
                orders=orders,
                state=state,
                ledger=ledger,
                store=store,
                bus=bus,
                metrics=metrics,
                tools=run_tools,
                on_decision=influx.on_decision if influx is not None else None,
                model=_signal_model(settings, metrics),
                sentiment=sentiment.score if sentiment is not None else None,
            )
            await _event(store, clock, "run_started", f"run {run_id} on {prepared.source.name}")
            on_slice = None
            if progress is not None:
                total = prepared.total_bars

                def on_slice(stats: PipelineStats, at: datetime) -> None:
                    progress(stats, at, total)

            bars = _observed(prepared.source.bars(), observer)
            if settings.speed is not None and not prepared.realtime:
                bars = paced(bars, speed=settings.speed, wall=SystemClock(), sleep=asyncio.sleep)
            if stop is not None and (prepared.realtime or settings.speed is not None):
                # Waiting for the next bar is most of a live or paced run: a stop must not wait.
                bars = until_stopped(bars, stop)
            stopped = await pipeline.run(
                bars,
                stop=stop,
                on_slice=_with_equity(on_slice, influx, ledger, account=orders.account),
                # A live feed's next bar is minutes away: decide once every symbol's bar is in.
                symbols_per_slice=len(symbols) if prepared.realtime else None,
            )
            if stopped:
                await _on_stop(settings, orders, store, clock, run_id)
            await _event(store, clock, "run_finished", f"run {run_id}: {pipeline.stats.bars} bars")
            return _summary(
                run_id,
                symbols,
                currency,
                starting_equity,
                ledger,
                pipeline,
                store.url,
                bus.url,
                stopped,
            )
        finally:
            await exits.aclose()
            if server is not None:
                server.close()
            await prepared.source.close()
            await bus.close()
    finally:
        await store.close()


def _signal_model(settings: Settings, metrics: Metrics) -> LiveModel | None:
    """The configured signal model, gated; its out-of-sample ECE is exported for the alert."""
    if settings.model.path is None:
        return None
    model = LiveModel.open(settings.model.path, max_ece=settings.model.max_ece)
    if model.model is not None:
        ece = model.model.card.get("out_of_sample", {}).get("ece")
        if isinstance(ece, int | float):
            metrics.set_model_calibration_error(model.model.version, float(ece))
    return model


def _live_upkeep(settings: Settings, opened: LiveExecution, clock: Clock) -> LiveUpkeep:
    return LiveUpkeep(
        dead_man_switch=opened.dead_man_switch,
        reconciler=opened.reconciler,
        orders=opened.orders,
        state=opened.state,
        clock=clock,
        interval=timedelta(minutes=settings.reconciliation.interval_minutes),
        dead_man=timedelta(seconds=settings.kraken.dead_man_seconds),
        state_poll=timedelta(seconds=settings.kraken.poll_seconds),
        publish_every=timedelta(seconds=settings.firm.publish_seconds),
    )


async def _on_stop(
    settings: Settings, orders: OrderService, store: Store, clock: Clock, run_id: str
) -> None:
    """A run stopped early: its open orders are cancelled (or kept, if so configured)."""
    if settings.on_stop == "cancel":
        cancelled = await orders.cancel_all(
            by=AUTONOMOUS_PRINCIPAL, why=f"run {run_id} stopped early"
        )
        message = f"run {run_id} stopped early: {len(cancelled)} open order(s) cancelled"
    else:
        message = f"run {run_id} stopped early: {len(orders.open_orders())} open order(s) kept"
    await _event(store, clock, "run_stopped", message)


class _ObservedLedger(PortfolioLedger):
    """The run's ledger, telling an observer about every fill it applies."""

    def __init__(self, portfolio: Portfolio, observer: RunObserver) -> None:
        super().__init__(portfolio)
        self._observer = observer

    def apply_fill(self, fill: Fill) -> bool:
        applied = super().apply_fill(fill)
        if applied:
            self._observer.on_fill(fill)
        return applied


class _BothObservers:
    """The caller's observer and the InfluxDB recorder, in that order."""

    def __init__(self, first: RunObserver, second: RunObserver) -> None:
        self._first, self._second = first, second

    def on_bar(self, bar: Bar) -> None:
        self._first.on_bar(bar)
        self._second.on_bar(bar)

    def on_fill(self, fill: Fill) -> None:
        self._first.on_fill(fill)
        self._second.on_fill(fill)


def _with_recorder(
    observer: RunObserver | None, influx: InfluxRecorder | None
) -> RunObserver | None:
    if influx is None:
        return observer
    return influx if observer is None else _BothObservers(observer, influx)


def _with_equity(
    on_slice: Callable[[PipelineStats, datetime], None] | None,
    influx: InfluxRecorder | None,
    ledger: PortfolioLedger,
    *,
    account: str,
) -> Callable[[PipelineStats, datetime], None] | None:
    """``on_slice``, also recording the account's equity after each slice when InfluxDB is on."""
    if influx is None:
        return on_slice

    def recorded(stats: PipelineStats, at: datetime) -> None:
        influx.on_equity(ledger.portfolio, account=account, at=at)
        if on_slice is not None:
            on_slice(stats, at)

    return recorded


def _ledger(portfolio: Portfolio, observer: RunObserver | None) -> PortfolioLedger:
    return PortfolioLedger(portfolio) if observer is None else _ObservedLedger(portfolio, observer)


def _observed(bars: AsyncIterator[Bar], observer: RunObserver | None) -> AsyncIterator[Bar]:
    if observer is None:
        return bars

    async def observed() -> AsyncIterator[Bar]:
        async for bar in bars:
            observer.on_bar(bar)
            yield bar

    return observed()


async def _event(store: Store, clock: Clock, event_type: str, message: str) -> None:
    await store.record_event(
        SystemEvent(
            timestamp=clock.now(),
            event_type=event_type,
            component="orchestrator",
            severity=Severity.INFO,
            message=message,
        )
    )


def _summary(
    run_id: str,
    symbols: list[str],
    currency: str,
    cash: Decimal,
    ledger: PortfolioLedger,
    pipeline: Pipeline,
    database: str,
    bus: str,
    stopped: bool,
) -> RunSummary:
    portfolio = ledger.portfolio
    stats = pipeline.stats
    return RunSummary(
        run_id=run_id,
        bars=stats.bars,
        symbols=symbols,
        decisions=count(stats.decisions),
        orders=count(stats.orders),
        fills=stats.fills,
        currency=currency,
        starting_equity=cash,
        ending_equity=portfolio.equity,
        realized_pnl=portfolio.realized_pnl,
        unrealized_pnl=portfolio.unrealized_pnl,
        commissions=portfolio.commissions,
        max_drawdown_pct=stats.max_drawdown_pct,
        database=database,
        bus=bus,
        stopped_early=stopped,
    )
