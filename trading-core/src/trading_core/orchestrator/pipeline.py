"""The per-bar pipeline, identical for replays and live runs.

Bars arrive grouped by timestamp (a *slice*, one bar per symbol). For each slice:

1. at the bars' open: quotes at the open price go to the broker (resting orders may fill), then the
   actions decided at the previous close are sized, risk-checked and sent: a signal at bar t uses
   data up to t and trades at t+1;
2. at the bars' close: marks, quotes, indicators, the agent's signal and a verdict (entry, exit,
   hold, skip). Entries and exits wait for the next open; holds and skips are recorded at once.

Every verdict becomes exactly one ``audit.decisions`` row. Nothing here reads the wall clock.
Orders go through the ``Tools`` port (in-process or over MCP: the same decisions either way);
only the simulated market (quotes for the paper broker) reaches the order service directly.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from trading_core.domain.errors import ToolsUnavailableError
from trading_core.domain.market import Bar, Quote
from trading_core.domain.order import Side
from trading_core.domain.signal import Decision, DecisionType, Signal
from trading_core.execution.order_service import OrderService, round_down
from trading_core.execution.trading_state import TradingStateService
from trading_core.instruments import InstrumentRegistry
from trading_core.marketdata.indicators import IncrementalIndicators
from trading_core.marketdata.quotes import quote_around
from trading_core.marketdata.regime import LOOKBACK_BARS as REGIME_LOOKBACK
from trading_core.marketdata.regime import MIN_BARS as REGIME_MIN_BARS
from trading_core.marketdata.regime import classify_regime
from trading_core.ml.live import LiveModel
from trading_core.orchestrator.quoting import marketable_limit
from trading_core.orchestrator.rules import ENTRY_THRESHOLD, EXIT_THRESHOLD, Verdict, decide
from trading_core.orchestrator.sizing import entry_size
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.agent import Agent, AgentContext, FilterVerdict
from trading_core.ports.bus import REGIME_KEY, Bus
from trading_core.ports.clock import Clock
from trading_core.ports.metrics import MetricsSink
from trading_core.ports.store import Store
from trading_core.ports.tools import (
    REASON_MAX_LENGTH,
    OrderTicket,
    PlaceResult,
    PlaceStatus,
    Tools,
)
from trading_core.risk.controls import Violation
from trading_core.services.tools_inprocess import InProcessTools

HISTORY_BARS = 250
SENTIMENT_INDICATOR = "sentiment"
"""The indicator the headline score is passed under (trading_agents.alphas.sentiment reads it)."""
DECISION_FLUSH_ROWS = 500
LIMIT_SLACK_BPS = Decimal(20)


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    run_id: str
    order_fraction: Decimal
    spread_bps: Decimal
    source_name: str
    entry_threshold: float = ENTRY_THRESHOLD
    exit_threshold: float = EXIT_THRESHOLD


@dataclass(frozen=True, slots=True)
class _Pending:
    """An entry or exit decided at a close, to be sized and sent at the next open."""

    verdict: Verdict
    signal: Signal | None
    decided_at: datetime
    size_multiplier: float = 1.0


@dataclass(frozen=True, slots=True)
class _Sent:
    """An order request that went out through the tools, and what came back."""

    ticket: OrderTicket | None
    """None when the tools failed before a ticket was made (listing the open orders)."""
    result: PlaceResult
    sizing: str = ""


@dataclass(slots=True)
class _SymbolState:
    closes: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY_BARS))
    bars: deque[Bar] = field(default_factory=lambda: deque(maxlen=REGIME_LOOKBACK))
    indicators: IncrementalIndicators = field(default_factory=IncrementalIndicators)
    pending: _Pending | None = None
    seen: int = 0
    """Bars of this symbol seen so far (the deques above keep only the latest)."""
    last_volume: Decimal | None = None
    """The volume of the last complete bar: the liquidity known at the next open."""


@dataclass(slots=True)
class PipelineStats:
    bars: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    orders: Counter[str] = field(default_factory=Counter)
    fills: int = 0
    max_drawdown_pct: Decimal = Decimal(0)


class Pipeline:
    """Runs the agent over slices of bars and records every decision."""

    def __init__(
        self,
        *,
        config: PipelineConfig,
        clock: Clock,
        advance_clock: Callable[[datetime], None],
        agent: Agent,
        instruments: InstrumentRegistry,
        orders: OrderService,
        state: TradingStateService,
        ledger: PortfolioLedger,
        store: Store,
        bus: Bus,
        metrics: MetricsSink,
        tools: Tools | None = None,
        on_decision: Callable[[Decision], None] | None = None,
        model: LiveModel | None = None,
        sentiment: Callable[[str, datetime], float | None] | None = None,
    ) -> None:
        """``orders`` only receives the simulated market's quotes; orders go through ``tools``.

        Without ``tools``, in-process tools over ``orders`` with the default approval policy.
        ``on_decision`` sees every decision as it is recorded (the InfluxDB recorder).
        ``model`` (the signal model, accepted by its gate or not) informs the agents and sizing,
        and every decision's reasoning names it; without one nothing changes.
        ``sentiment(symbol, close_time)`` is the headline score known at a bar's close, passed
        to the agent as the ``sentiment`` indicator when there is one.
        """
        self._config = config
        self._clock = clock
        self._advance = advance_clock
        self._agent = agent
        self._needs_history = bool(getattr(agent, "needs_history", False))
        self._instruments = instruments
        self._orders = orders
        self._tools: Tools = tools or InProcessTools.over(orders, store=store, clock=clock)
        self._regimes: dict[str, tuple[str, str]] = {}
        """symbol -> (regime, as of): what ``regime:current`` shows."""
        self._trading_state = state
        self._ledger = ledger
        self._store = store
        self._bus = bus
        self._metrics = metrics
        self._on_decision = on_decision
        self._model = model
        self._sentiment = sentiment
        self._symbols: dict[str, _SymbolState] = {}
        self._decisions: list[Decision] = []
        self._bars: list[Bar] = []
        self._sequence = 0
        self._session_day: date | None = None
        self.stats = PipelineStats()

    async def run(
        self,
        bars: AsyncIterator[Bar],
        *,
        stop: asyncio.Event | None = None,
        on_slice: Callable[[PipelineStats, datetime], None] | None = None,
        symbols_per_slice: int | None = None,
    ) -> bool:
        """Process every slice; returns True when stopped before the data ended.

        ``symbols_per_slice`` processes a slice as soon as every symbol's bar of that time is in
        (a live source), not when the next time's first bar is.
        """
        async for bar_slice in _slices(bars, symbols_per_slice):
            await self.process_slice(bar_slice)
            if on_slice is not None:
                on_slice(self.stats, bar_slice[0].close_time)
            if stop is not None and stop.is_set():
                break
        await self.finish()
        # Set either between bars or while waiting for one (the source then ended early).
        return stop is not None and stop.is_set()

    async def process_slice(self, bar_slice: Sequence[Bar]) -> None:
        opened_at = bar_slice[0].timestamp
        self._advance(opened_at)
        await self._trading_state.refresh()  # a person's kill switch or pause from another process
        if self._session_day is not None and opened_at.date() != self._session_day:
            self._ledger.roll_day()
        self._session_day = opened_at.date()
        for bar in bar_slice:
            await self._at_open(bar)
        self._advance(bar_slice[0].close_time)
        for bar in bar_slice:
            await self._at_close(bar)
        self._bars.extend(bar_slice)
        portfolio = self._ledger.portfolio
        await self._trading_state.evaluate(
            lambda: (portfolio.daily_pnl_pct, portfolio.drawdown_pct)
        )
        self.stats.max_drawdown_pct = max(self.stats.max_drawdown_pct, portfolio.drawdown_pct)
        self._metrics.set_equity(portfolio.equity)
        self._metrics.set_cash(portfolio.cash)
        self._metrics.set_drawdown_ratio(portfolio.drawdown_pct / 100)
        self._metrics.set_daily_pnl_ratio(portfolio.daily_pnl_pct / 100)
        if len(self._decisions) >= DECISION_FLUSH_ROWS:
            await self.flush()

    async def finish(self) -> None:
        """Record actions that never reached a next bar, then flush everything."""
        for symbol, state in self._symbols.items():
            if state.pending is not None:
                pending = state.pending
                state.pending = None
                self._record(
                    symbol,
                    pending.verdict,
                    pending.signal,
                    pending.decided_at,
                    final_action="not sent: the data ended before the next bar",
                )
        await self.flush()

    async def flush(self) -> None:
        if self._bars:
            await self._store.upsert_bars(self._bars)
            self._bars = []
        if self._decisions:
            await self._store.record_decisions(self._decisions)
            self._decisions = []

    async def _at_open(self, bar: Bar) -> None:
        state = self._state(bar.symbol)
        quote = self._quote(bar, bar.open, bar.timestamp)
        # Liquidity at the open is what the last complete bar traded: this bar's volume is
        # not known until it closes.
        opened = await self._orders.on_bar_open(quote, known_volume=state.last_volume)
        self.stats.fills += len(opened)
        if state.pending is None:
            return
        pending = state.pending
        state.pending = None
        sent = await self._execute(bar.symbol, pending, quote)
        self._record_outcome(bar.symbol, pending.verdict, pending.signal, pending.decided_at, sent)
        if not isinstance(sent, str) and sent.result.order is not None:
            await self.flush()  # an order was created: its decision is durable at once

    async def _at_close(self, bar: Bar) -> None:
        state = self._state(bar.symbol)
        self.stats.bars += 1
        self._metrics.record_bar(bar.symbol)
        self._metrics.set_data_feed_last_update(bar.symbol, bar.close_time)
        self._ledger.mark(bar.symbol, bar.close, bar.close_time)
        quote = self._quote(bar, bar.close, bar.close_time)
        self.stats.fills += len(await self._orders.on_bar_close(bar, quote))
        state.last_volume = bar.volume
        await self._bus.set_quote(quote)
        await self._bus.publish("quotes", quote.model_dump(mode="json"))
        state.closes.append(float(bar.close))
        state.seen += 1
        indicators: Mapping[str, float | None] = state.indicators.update(
            float(bar.high), float(bar.low), float(bar.close)
        )
        if self._sentiment is not None:
            # Point in time: only headlines published before this close count.
            score = self._sentiment(bar.symbol, bar.close_time)
            if score is not None:
                indicators = {**indicators, SENTIMENT_INDICATOR: score}
        reading = None
        if self._model is not None:
            reading = self._model.read(bar.symbol, float(bar.close), float(bar.volume), indicators)
            indicators = reading.indicators
        position = self._ledger.portfolio.position(bar.symbol).quantity
        regime: str | None = None
        history: tuple[Bar, ...] = ()
        if self._needs_history:
            state.bars.append(bar)
            history = tuple(state.bars)
            if len(history) >= REGIME_MIN_BARS:
                regime = str(classify_regime(history).regime)
                await self._announce_regime(bar, regime)
        context = AgentContext(
            bar=bar,
            closes=tuple(state.closes),
            indicators=indicators,
            position_quantity=position,
            bars=history,
            regime=regime,
        )
        signal = self._agent.evaluate(context)
        if self._model is not None and reading is not None:
            signal = self._model.calibrated(signal, reading)
        verdict = decide(
            signal,
            position_quantity=position,
            bars_seen=state.seen,
            warmup_bars=self._agent.warmup_bars,
            agent=self._agent.name,
            entry_threshold=self._config.entry_threshold,
            exit_threshold=self._config.exit_threshold,
        )
        if reading is not None:
            verdict = Verdict(verdict.decision_type, f"{verdict.reasoning}; {reading.note}")
        if signal is not None and signal.score != 0:
            await self._bus.publish("signals", signal.model_dump(mode="json"))
        multiplier = 1.0
        if verdict.decision_type is DecisionType.ENTRY and signal is not None:
            verdict, multiplier = self._filtered(verdict, signal, context)
        if verdict.decision_type in (DecisionType.ENTRY, DecisionType.EXIT):
            state.pending = _Pending(verdict, signal, bar.close_time, multiplier)
        else:
            self._record(bar.symbol, verdict, signal, bar.close_time, final_action="none")

    def _filtered(
        self, verdict: Verdict, signal: Signal, context: AgentContext
    ) -> tuple[Verdict, float]:
        """The agents' trade filters on an entry: shrink its size, or veto it (a skip)."""
        trade_filter = getattr(self._agent, "trade_filter", None)
        if trade_filter is None:
            return verdict, 1.0
        said: FilterVerdict = trade_filter(signal, context)
        if said.size_multiplier <= 0:
            return Verdict(
                DecisionType.SKIP, f"skip: vetoed by {said.reason}; {verdict.reasoning}"
            ), 0.0
        if said.size_multiplier < 1:
            shrunk = f"{verdict.reasoning}; size x{said.size_multiplier:g} ({said.reason})"
            return Verdict(verdict.decision_type, shrunk), said.size_multiplier
        return verdict, 1.0

    async def _announce_regime(self, bar: Bar, regime: str) -> None:
        """``regime:current`` holds every symbol's latest reading; a change is published."""
        if self._regimes.get(bar.symbol, (None,))[0] == regime:
            return
        self._regimes[bar.symbol] = (regime, bar.close_time.isoformat())
        reading = {"symbol": bar.symbol, "regime": regime, "at": bar.close_time.isoformat()}
        await self._bus.publish("regime", reading)
        current = {symbol: {"regime": r, "at": at} for symbol, (r, at) in self._regimes.items()}
        await self._bus.set(REGIME_KEY, json.dumps(current, sort_keys=True))

    async def _execute(self, symbol: str, pending: _Pending, quote: Quote) -> _Sent | str:
        try:
            return await self._send(symbol, pending, quote)
        except ToolsUnavailableError as exc:
            # The suite is down: this decision is refused, never retried later at another
            # price, and nothing is assumed about a request whose answer never came.
            refused = PlaceResult(
                status=PlaceStatus.REJECTED,
                client_order_id=f"{self._config.run_id[:12]}-{self._sequence}",
                symbol=symbol,
                violations=[Violation(code=exc.code, message=exc.message)],
                message=f"{exc.code}: {exc.message}",
            )
            return _Sent(None, refused)

    async def _send(self, symbol: str, pending: _Pending, quote: Quote) -> _Sent | str:
        verdict = pending.verdict
        instrument = self._instruments.get(symbol)
        portfolio = self._ledger.portfolio
        buy = verdict.decision_type is DecisionType.ENTRY
        for order in await self._tools.open_orders(symbol):
            # Only this strategy's own orders: over MCP the account may hold a person's too.
            if order.strategy_id == self._agent.name:
                await self._tools.cancel_order(order.order_id)
        sizing = ""
        if buy:
            limits = self._orders.limits
            size = entry_size(
                signal=pending.signal,
                equity=portfolio.equity,
                ask=quote.ask,
                instrument=instrument,
                order_fraction=self._config.order_fraction,
                multiplier=pending.size_multiplier,
                held=portfolio.position(symbol).quantity,
                # Kelly is bound by the caps the order will be checked against, at its limit.
                limit_price=marketable_limit(
                    quote, buy=True, tick=instrument.tick_size, slack_bps=LIMIT_SLACK_BPS
                ),
                max_order_notional_pct=limits.max_order_notional_pct,
                max_position_pct=limits.max_position_pct,
            )
            quantity, sizing = size.quantity, size.method
        else:
            quantity = round_down(portfolio.position(symbol).quantity, instrument.lot_size)
        if quantity < instrument.min_quantity:
            return f"not sent: size {quantity} below the minimum {instrument.min_quantity}"
        self._sequence += 1
        ticket = OrderTicket(
            symbol=symbol,
            side=Side.BUY if buy else Side.SELL,
            quantity=quantity,
            limit_price=marketable_limit(
                quote, buy=buy, tick=instrument.tick_size, slack_bps=LIMIT_SLACK_BPS
            ),
            client_order_id=f"{self._config.run_id[:12]}-{self._sequence}",
            strategy_id=self._agent.name,
            # The whole reasoning goes to the audit row; the order carries what fits a ticket.
            reason=_clip(verdict.reasoning, REASON_MAX_LENGTH),
        )
        result = await self._tools.place_order(ticket)
        status = result.order.status if result.order is not None else result.status
        self.stats.orders[str(status)] += 1
        self.stats.fills += len(result.fills)
        await self._bus.publish(
            "orders",
            {
                "client_order_id": ticket.client_order_id,
                "symbol": symbol,
                "side": ticket.side,
                "quantity": str(quantity),
                "status": str(status),
            },
        )
        return _Sent(ticket, result, sizing)

    def _record_outcome(
        self,
        symbol: str,
        verdict: Verdict,
        signal: Signal | None,
        decided_at: datetime,
        sent: _Sent | str,
    ) -> None:
        if isinstance(sent, str):
            self._record(symbol, verdict, signal, decided_at, final_action=sent)
            return
        ticket, result = sent.ticket, sent.result
        order = result.order
        if result.status is PlaceStatus.PENDING_APPROVAL and ticket is not None:
            action = (
                f"{ticket.side} {ticket.quantity} {symbol} limit {ticket.limit_price}"
                f" -> {result.status} (notional {result.notional})"
            )
            verdict = Verdict(
                DecisionType.APPROVAL,
                f"{verdict.reasoning}; waits for a person: above the autonomous budget",
            )
        elif order is None:
            action = f"rejected: {result.message}"
        else:
            filled = (
                f", filled {order.filled_quantity} @ {order.average_fill_price:.8f}"
                if order.average_fill_price is not None
                else ""
            )
            action = (
                f"{order.side} {order.quantity} {symbol} limit {order.limit_price}"
                f" -> {order.status}{filled}"
            )
        if sent.sizing:
            action += f"; size: {sent.sizing}"
        if result.status is PlaceStatus.REJECTED:
            codes = ", ".join(v.code for v in result.violations)
            verdict = Verdict(DecisionType.REJECTED, f"{verdict.reasoning}; refused: {codes}")
        self._record(
            symbol,
            verdict,
            signal,
            decided_at,
            final_action=action,
            risk_check=_risk_check(result),
            order_id=order.order_id if order is not None else None,
        )

    def _record(
        self,
        symbol: str,
        verdict: Verdict,
        signal: Signal | None,
        decided_at: datetime,
        *,
        final_action: str,
        risk_check: dict[str, Any] | None = None,
        order_id: str | None = None,
    ) -> None:
        decision = Decision(
            timestamp=decided_at,
            decision_type=verdict.decision_type,
            symbol=symbol,
            signals=[signal.model_dump(mode="json")] if signal is not None else [],
            risk_check=risk_check or {},
            final_action=final_action,
            reasoning=verdict.reasoning,
            order_id=order_id,
            run_id=self._config.run_id,
            principal="trading-core",
        )
        self._decisions.append(decision)
        self.stats.decisions[verdict.decision_type] += 1
        self._metrics.record_decision(verdict.decision_type)
        if self._on_decision is not None:
            self._on_decision(decision)

    def _quote(self, bar: Bar, price: Decimal, at: datetime) -> Quote:
        return quote_around(
            symbol=bar.symbol,
            price=price,
            spread_bps=self._config.spread_bps,
            timestamp=at,
            source=self._config.source_name,
            volume=bar.volume,
            tick=self._instruments.get(bar.symbol).tick_size,
        )

    def _state(self, symbol: str) -> _SymbolState:
        state = self._symbols.get(symbol)
        if state is None:
            state = self._symbols[symbol] = _SymbolState()
        return state


async def _slices(
    bars: AsyncIterator[Bar], complete_at: int | None = None
) -> AsyncIterator[list[Bar]]:
    """Group consecutive bars that share an open time.

    A slice ends when a bar of a later time arrives, or, with ``complete_at``, as soon as it
    holds that many bars (one per symbol): a live source's next bar is a whole bar away, and a
    decision must not wait for it.
    """
    current: list[Bar] = []
    async for bar in bars:
        if current and bar.timestamp != current[0].timestamp:
            yield current
            current = []
        current.append(bar)
        if complete_at is not None and len(current) == complete_at:
            yield current
            current = []
    if current:
        yield current


def _risk_check(result: PlaceResult) -> dict[str, Any]:
    """What the tools said about the request, for the audit row (JSON, stable keys)."""
    check: dict[str, Any] = {
        "status": str(result.status),
        # The guardrails let it through (a request queued for a person passed them too).
        "approved": result.status is not PlaceStatus.REJECTED,
        "violations": [v.model_dump(mode="json") for v in result.violations],
        "notional": None if result.notional is None else str(result.notional),
        "reference_price": None if result.reference_price is None else str(result.reference_price),
    }
    if result.approval_id is not None:
        check["approval_id"] = result.approval_id
        check["approval_expires_at"] = result.approval_expires_at
    if result.duplicate:
        check["duplicate"] = True
    if result.message and result.approval_id is None:
        # A queued request's message only tells a person how to approve it (approval_id above).
        check["message"] = result.message
    return check


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
