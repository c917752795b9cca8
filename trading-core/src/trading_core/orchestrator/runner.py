"""Wiring for `trading-core run`: settings in, a finished run (and its summary) out.

Everything that can be wrong with the input (settings, instrument list, agent name, data files,
symbols, database URL) is checked before the first row is written, so a bad start leaves nothing
half-written behind.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from trading_core.adapters.bus_factory import open_bus
from trading_core.adapters.clock import SimulatedClock, SystemClock
from trading_core.adapters.metrics import Metrics
from trading_core.domain.errors import ConfigurationError
from trading_core.domain.market import Timeframe
from trading_core.domain.portfolio import Portfolio
from trading_core.domain.state import Severity, SystemEvent
from trading_core.execution.order_service import OrderService
from trading_core.execution.paper_broker import PaperBroker
from trading_core.execution.quotes import QuoteBook
from trading_core.execution.trading_state import STATE_KEY, TradingStateService
from trading_core.instruments import InstrumentRegistry
from trading_core.marketdata.loaders import load_bars_frame
from trading_core.marketdata.replay import ReplaySource
from trading_core.marketdata.synthetic import SyntheticSource
from trading_core.orchestrator.pipeline import Pipeline, PipelineConfig, PipelineStats
from trading_core.orchestrator.summary import RunSummary, count
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.agent import load_agent
from trading_core.ports.clock import Clock
from trading_core.ports.market_data import MarketDataSource
from trading_core.ports.store import Store
from trading_core.risk.risk_config import RiskLimits, load_risk_limits_toml
from trading_core.settings import Settings, SourceKind
from trading_core.storage.factory import open_store

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SYNTHETIC_START = datetime(2024, 1, 1, tzinfo=UTC)
SYNTHETIC_START_PRICES = {"BTC/USD": Decimal(40_000), "ETH/USD": Decimal(2_500)}

ProgressCallback = Callable[[PipelineStats, datetime, int | None], None]


@dataclass(frozen=True, slots=True)
class PreparedSource:
    source: MarketDataSource
    total_bars: int | None
    realtime: bool


def prepare_source(settings: Settings, instruments: InstrumentRegistry) -> PreparedSource:
    """Build and validate the market data source (reads and checks replay files up front)."""
    if settings.source is SourceKind.REPLAY:
        return _prepare_replay(settings, instruments)
    symbols = settings.symbols or settings.synthetic.symbols
    instruments.require(symbols)
    timeframe = Timeframe(settings.synthetic.timeframe)
    if settings.source is SourceKind.KRAKEN:
        # Imported here: ccxt is large and only this source needs it.
        from trading_core.marketdata.kraken import KrakenPublicSource

        return PreparedSource(KrakenPublicSource(symbols, timeframe), None, realtime=True)
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


def _prepare_replay(settings: Settings, instruments: InstrumentRegistry) -> PreparedSource:
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
    replay = ReplaySource(loaded, spread_bps=settings.paper.spread_bps, max_bars=settings.max_bars)
    accepted = sum(report.accepted for report in replay.quality_reports.values())
    total = min(accepted, settings.max_bars) if settings.max_bars else accepted
    return PreparedSource(replay, total, realtime=False)


def read_risk_limits(path: Path) -> RiskLimits:
    """The effective limits: the hard caps, tightened by ``path`` when it exists.

    A value beyond its hard cap is refused here, at start-up, before anything is written.
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
) -> RunSummary:
    """One paper-trading run over the configured source; returns the closing summary."""
    instruments = InstrumentRegistry.from_file(settings.symbols_file)
    risk_limits = read_risk_limits(settings.config_dir / "risk_limits.toml")
    agent = load_agent(settings.agent.name, settings.agent.parameters)
    prepared = prepare_source(settings, instruments)
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
        server = metrics.serve(settings.metrics_port) if settings.metrics_port is not None else None
        try:
            ledger = PortfolioLedger(Portfolio.start(cash, base_currency=currency))
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
                key=STATE_KEY if prepared.realtime else f"{STATE_KEY}:replay:{run_id}",
            )
            orders = OrderService(
                broker=broker,
                store=store,
                clock=clock,
                instruments=instruments,
                ledger=ledger,
                quotes=QuoteBook(),
                state=state,
                risk_limits=risk_limits,
                metrics=metrics,
            )
            state.on_kill(orders.cancel_all)
            pipeline = Pipeline(
                config=PipelineConfig(
                    run_id=run_id,
                    order_fraction=settings.agent.order_fraction,
                    spread_bps=settings.paper.spread_bps,
                    source_name=prepared.source.name,
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
            )
            await _event(store, clock, "run_started", f"run {run_id} on {prepared.source.name}")
            on_slice = None
            if progress is not None:
                total = prepared.total_bars

                def on_slice(stats: PipelineStats, at: datetime) -> None:
                    progress(stats, at, total)

            stopped = await pipeline.run(prepared.source.bars(), stop=stop, on_slice=on_slice)
            await _event(store, clock, "run_finished", f"run {run_id}: {pipeline.stats.bars} bars")
            return _summary(
                run_id, symbols, currency, cash, ledger, pipeline, store.url, bus.url, stopped
            )
        finally:
            if server is not None:
                server.close()
            await prepared.source.close()
            await bus.close()
    finally:
        await store.close()


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
