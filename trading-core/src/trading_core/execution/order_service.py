"""The order service: the only code that reaches a broker.

Every order is checked by ``risk.pretrade.check_order`` immediately before it leaves, persisted as
PENDING before the broker sees it (so a crash never loses an order that may be live), and
idempotent by client order id: the same id twice returns the first outcome and sends nothing.
A submit whose answer is lost becomes UNKNOWN and is never resubmitted blindly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from enum import StrEnum

from trading_core.domain.base import ZERO, Frozen
from trading_core.domain.errors import BrokerError, TradingError
from trading_core.domain.fill import Fill
from trading_core.domain.market import Quote
from trading_core.domain.order import Order, OrderStatus, Side
from trading_core.instruments import InstrumentRegistry
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.broker import Broker, BrokerReport
from trading_core.ports.clock import Clock
from trading_core.ports.metrics import MetricsSink, NullMetrics
from trading_core.ports.store import Store
from trading_core.risk.pretrade import (
    ExposureView,
    OrderRequest,
    RiskDecision,
    RiskLimits,
    Violation,
    check_order,
)
from trading_core.risk.throttles import PreTradeThrottles

from .quotes import QuoteBook
from .trading_state import TradingStateService


class OutcomeStatus(StrEnum):
    FILLED = "filled"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


class OrderOutcome(Frozen):
    """What happened to one request: the risk verdict, the order (if created) and its fills."""

    status: OutcomeStatus
    risk: RiskDecision | None = None
    order: Order | None = None
    fills: tuple[Fill, ...] = ()
    duplicate: bool = False
    message: str = ""
    code: str | None = None
    """Stable code when the request failed before the risk controls ran (e.g. unknown symbol)."""

    @property
    def codes(self) -> list[str]:
        """Every stable code that refused this request."""
        risk_codes = self.risk.codes if self.risk is not None else []
        return [self.code, *risk_codes] if self.code else risk_codes


def _new_order_id() -> str:
    return uuid.uuid4().hex


class OrderService:
    """Risk-checks, persists and sends orders; applies executions to the ledger and the store."""

    def __init__(
        self,
        *,
        broker: Broker,
        store: Store,
        clock: Clock,
        instruments: InstrumentRegistry,
        ledger: PortfolioLedger,
        quotes: QuoteBook,
        state: TradingStateService,
        risk_limits: RiskLimits | None = None,
        metrics: MetricsSink | None = None,
        new_order_id: Callable[[], str] = _new_order_id,
    ) -> None:
        self._broker = broker
        self._store = store
        self._clock = clock
        self._instruments = instruments
        self._ledger = ledger
        self._quotes = quotes
        self._state = state
        self._limits = risk_limits or RiskLimits()
        self._throttles = PreTradeThrottles(self._limits)
        self._metrics: MetricsSink = metrics or NullMetrics()
        self._new_order_id = new_order_id
        self._open: dict[str, Order] = {}

    def update_limits(self, risk_limits: RiskLimits) -> None:
        """Adopt limits changed at run time (a tightening applies to the very next check)."""
        self._limits = risk_limits

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self._open.values() if symbol is None or o.symbol == symbol]

    def exposure_view(self, symbol: str) -> ExposureView:
        portfolio = self._ledger.portfolio
        open_orders = self.open_orders(symbol)
        open_buys = [o for o in open_orders if o.side is Side.BUY]
        buy_notional = sum(
            (
                o.remaining_quantity * (o.limit_price or ZERO)
                for o in self.open_orders()
                if o.side is Side.BUY
            ),
            start=ZERO,
        )
        return ExposureView(
            now=self._clock.now(),
            equity=portfolio.equity,
            cash=portfolio.cash,
            position_quantity=portfolio.position(symbol).quantity,
            open_buy_quantity=sum((o.remaining_quantity for o in open_buys), start=ZERO),
            open_sell_quantity=sum(
                (o.remaining_quantity for o in open_orders if o.side is Side.SELL), start=ZERO
            ),
            open_buy_notional=buy_notional,
            quote=self._quotes.get(symbol),
            open_orders_total=len(self._open),
            open_orders_for_symbol=len(open_orders),
            gross_exposure=portfolio.gross_exposure,
            net_exposure=portfolio.net_exposure,
        )

    def check(self, request: OrderRequest) -> RiskDecision:
        """Dry run of every pre-trade control and the trading state (nothing sent or stored)."""
        instrument = self._instruments.get(request.symbol)
        view = self.exposure_view(request.symbol)
        view = view.model_copy(update={"throttles": self._throttles.snapshot(request, view.now)})
        return self._with_state_gate(check_order(request, instrument, view, self._limits))

    async def place(self, request: OrderRequest) -> OrderOutcome:
        """Check, persist and send ``request``; see the module docstring for the guarantees."""
        existing = await self._store.get_order_by_client_id(request.client_order_id)
        if existing is not None:
            return _outcome_of(existing, duplicate=True)
        try:
            decision = self.check(request)
        except TradingError as exc:
            self._metrics.record_risk_rejection(exc.code)
            return OrderOutcome(status=OutcomeStatus.REJECTED, message=exc.message, code=exc.code)
        order = self._order_from(decision.order_to_send or request)
        if decision.halt:
            await self._state.halt(
                reason=f"repeated executions in {request.symbol}", by="risk.throttles"
            )
        if not decision.approved:
            return await self._reject(order, decision)
        await self._store.save_order(order)
        self._open[order.order_id] = order
        # Re-checked at the moment the order leaves: the state may have changed while the
        # order was being checked and persisted (a kill switch must win that race).
        late = self._with_state_gate(decision)
        if not late.approved:
            self._open.pop(order.order_id, None)
            return await self._reject(order, late)
        # The order leaves now (even a lost answer may have reached the broker): consume budget.
        self._throttles.record_submit(request, decision.notional, self._clock.now())
        try:
            report = await self._broker.submit(order)
        except (BrokerError, TimeoutError, ConnectionError) as exc:
            unknown = order.transition(OrderStatus.UNKNOWN, at=self._clock.now(), reason=str(exc))
            await self._record(unknown, ())
            return OrderOutcome(
                status=OutcomeStatus.UNKNOWN, risk=decision, order=unknown, message=str(exc)
            )
        fills = await self._record(report.order, report.fills)
        outcome = _outcome_of(report.order, duplicate=False)
        return outcome.model_copy(update={"risk": decision, "fills": fills})

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Cancel every working order (of ``symbol``). Never blocked by risk or throttles."""
        return [await self.cancel(order.order_id) for order in self.open_orders(symbol)]

    def _with_state_gate(self, decision: RiskDecision) -> RiskDecision:
        """Add the trading state's verdict (HALTED, KILLED, REDUCING) to ``decision``."""
        code = self._state.order_allowed(reduces_position=decision.reduces_position)
        if code is None:
            return decision
        if code in decision.codes:
            return decision
        blocked = Violation(code=code, message=f"trading state {self._state.state}: {code}")
        return decision.model_copy(
            update={"approved": False, "violations": (*decision.violations, blocked)}
        )

    async def _reject(self, order: Order, decision: RiskDecision) -> OrderOutcome:
        for code in decision.codes:
            self._metrics.record_risk_rejection(code)
        rejected = order.transition(
            OrderStatus.REJECTED, at=self._clock.now(), reason=", ".join(decision.codes)
        )
        await self._store.save_order(rejected)
        self._metrics.record_order(rejected.status)
        return OrderOutcome(status=OutcomeStatus.REJECTED, risk=decision, order=rejected)

    async def cancel(self, order_id: str) -> Order:
        """Cancel a working order. Never blocked by risk."""
        report = await self._broker.cancel(order_id)
        await self._record(report.order, report.fills)
        return report.order

    async def on_quote(self, quote: Quote) -> list[Fill]:
        """Feed a quote to the broker; resting orders that execute are recorded."""
        self._quotes.update(quote)
        fills: list[Fill] = []
        reports: Sequence[BrokerReport] = await self._broker.on_quote(quote)
        for report in reports:
            fills.extend(await self._record(report.order, report.fills))
        return fills

    async def _record(self, order: Order, fills: Sequence[Fill]) -> tuple[Fill, ...]:
        await self._store.save_order(order)
        if order.status.is_open:
            self._open[order.order_id] = order
        else:
            self._open.pop(order.order_id, None)
        self._metrics.record_order(order.status)
        applied: list[Fill] = []
        for fill in fills:
            # The store is the truth: a fill it already holds (a repeated report) counts once.
            if await self._store.save_fill(fill) and self._ledger.apply_fill(fill):
                applied.append(fill)
                self._throttles.record_fill(fill)
                self._metrics.record_fill()
                await self._store.save_position(self._ledger.portfolio.position(fill.symbol))
        return tuple(applied)

    def _order_from(self, request: OrderRequest) -> Order:
        now = self._clock.now()
        return Order(
            order_id=self._new_order_id(),
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            quantity=request.quantity,
            order_type=request.order_type,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            time_in_force=request.time_in_force,
            strategy_id=request.strategy_id,
            reason=request.reason,
            broker=self._broker.name,
            created_at=now,
            updated_at=now,
        )


def _outcome_of(order: Order, *, duplicate: bool) -> OrderOutcome:
    status = {
        OrderStatus.FILLED: OutcomeStatus.FILLED,
        OrderStatus.REJECTED: OutcomeStatus.REJECTED,
        OrderStatus.UNKNOWN: OutcomeStatus.UNKNOWN,
    }.get(order.status, OutcomeStatus.ACCEPTED)
    return OrderOutcome(status=status, order=order, duplicate=duplicate)


def round_down(value: Decimal, increment: Decimal) -> Decimal:
    """Largest multiple of ``increment`` not above ``value`` (sizes never round up)."""
    return (value // increment) * increment
