"""The order service: the only code that reaches a broker.

Every order is checked by ``risk.pretrade.check_order`` immediately before it leaves, persisted as
PENDING before the broker sees it (so a crash never loses an order that may be live), and
idempotent by client order id: the same id twice returns the first outcome and sends nothing.
A submit whose answer is lost becomes UNKNOWN and is never resubmitted blindly.

The kill switch's flatten (:meth:`OrderService.flatten_all`, wired by
:meth:`OrderService.wire_kill_switch`) is the one path that sends while the account is KILLED. It
builds its own orders (the full position, the opposite side, marketable IOC, reduce-only) and skips
only the trading-state gate: every other control still runs, and an order a control refuses leaves
the position open and raises an alert.

Processes sharing an account (a run and an MCP server on one database) place orders one at a
time: :meth:`OrderService.place` holds the account's order gate (``Store.order_gate``) while it
adopts the others' fills and open orders, checks and sends, and a fill is booked under the same
gate, so the position caps and open-order limits hold for the account, not for each process.

The repeated-execution history of the shared account (latched pairs and the fills of the window) is
read from the store before each order and each counted fill and written back after the fill, so a
restart, another process and a person's release all see the same latches.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from trading_core.audit_trail import cancel_row, flatten_row
from trading_core.domain.base import ZERO, Frozen
from trading_core.domain.errors import (
    BrokerError,
    DuplicateOrderError,
    OrderGateBusy,
    TradingError,
)
from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar, Quote
from trading_core.domain.order import (
    PAPER_ACCOUNT,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from trading_core.domain.position import Position
from trading_core.domain.signal import Decision
from trading_core.domain.state import Severity, SystemEvent
from trading_core.instruments import InstrumentRegistry
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.broker import BarMarket, Broker, BrokerReport
from trading_core.ports.clock import Clock
from trading_core.ports.metrics import MetricsSink, NullMetrics
from trading_core.ports.store import Store
from trading_core.risk.firm import FirmExposure
from trading_core.risk.pretrade import (
    ExposureView,
    OrderRequest,
    RiskDecision,
    RiskLimits,
    Violation,
    check_order,
)
from trading_core.risk.throttles import ExecutionHistory, PreTradeThrottles

from .firm_view import FirmView
from .quotes import QuoteBook
from .trading_state import TradingStateService

FLATTEN_RETRY_DELAYS: Final = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 30.0, 30.0, 30.0, 30.0)
"""Seconds between the tries of a kill-switch flatten the order gate kept out (~3 min)."""
FLATTEN_REASON: Final = "kill switch flatten"
"""The ``reason`` every flatten order carries (and the audit trail shows)."""
FLATTEN_STRATEGY: Final = "kill_switch"
FLATTEN_NOT_KILLED: Final = "FLATTEN_REQUIRES_KILL_SWITCH"
FLATTEN_NOT_REDUCING: Final = "FLATTEN_NOT_REDUCING"
COMPONENT: Final = "execution.order_service"
log = logging.getLogger(__name__)

KillAction = Callable[[], Awaitable[object]]
BookSync = Callable[[], Awaitable[object]]
"""Adopts into the ledger what other processes booked on the account (``Account.sync``)."""
OwnerAlive = Callable[[Order], Awaitable[bool]]
"""Whether the process that holds an order (a paper broker's, in memory) is still running."""
OPEN_STATUSES: Final = tuple(s for s in OrderStatus if s.is_open)
ORPHAN_CANCELLED: Final = "its paper broker stopped with its process"
ORPHAN_NEVER_BOOKED: Final = (
    "its process stopped before the outcome was booked (nothing reached the books)"
)
ORPHAN_REASONS: Final = frozenset({ORPHAN_CANCELLED, ORPHAN_NEVER_BOOKED})

# Order gates this task holds (by store and account): booking a fill inside place() must not
# wait for the gate place() already holds.
_GATES_HELD: ContextVar[frozenset[tuple[int, str]]] = ContextVar(
    "order_gates_held", default=frozenset()
)


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
        account: str = PAPER_ACCOUNT,
        book_sync: BookSync | None = None,
        owner_alive: OwnerAlive | None = None,
        firm: FirmView | None = None,
        timer: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``timer`` measures order latency for the metrics only (never a decision's input)."""
        self._broker = broker
        # Checked once: a runtime Protocol check costs microseconds, twice a bar per symbol.
        self._bar_market: BarMarket | None = broker if isinstance(broker, BarMarket) else None
        self._timer = timer
        self._sleep = sleep
        self._background: set[asyncio.Task[None]] = set()
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
        self.account = account
        """The book this service's orders trade (a replay's own, or the paper account)."""
        self._open: dict[str, Order] = {}
        self._book_sync = book_sync
        self._owner_alive = owner_alive
        self._elsewhere: tuple[Order, ...] = ()
        """The account's open orders other processes hold, as last read under the gate."""
        self._firm = firm
        """A live run's part of the firm view: published after fills; with other accounts
        configured, read before each check and applied by the firm-wide control."""

    @property
    def limits(self) -> RiskLimits:
        """The effective risk limits every order of this service is checked against."""
        return self._limits

    def update_limits(self, risk_limits: RiskLimits) -> None:
        """Adopt limits changed at run time (a tightening applies to the very next check)."""
        self._limits = risk_limits

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self._open.values() if symbol is None or o.symbol == symbol]

    def account_open_orders(self, symbol: str | None = None) -> list[Order]:
        """This process's open orders and the account's others (as last read under the gate)."""
        every = [*self._open.values(), *self._elsewhere]
        return [o for o in every if symbol is None or o.symbol == symbol]

    def exposure_view(self, symbol: str) -> ExposureView:
        portfolio = self._ledger.portfolio
        every = self.account_open_orders()
        open_orders = [o for o in every if o.symbol == symbol]
        open_buys = [o for o in open_orders if o.side is Side.BUY]
        buy_notional = sum(
            (o.remaining_quantity * (o.limit_price or ZERO) for o in every if o.side is Side.BUY),
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
            open_orders_total=len(every),
            open_orders_for_symbol=len(open_orders),
            gross_exposure=portfolio.gross_exposure,
            net_exposure=portfolio.net_exposure,
            firm=self._firm_exposure(symbol, every),
        )

    def _firm_exposure(self, symbol: str, open_orders: list[Order]) -> FirmExposure | None:
        if self._firm is None or not self._firm.counts_others:
            return None
        own = self._firm.snapshot(self._ledger.portfolio, self._quotes, open_orders)
        return self._firm.exposure(own, self._quotes, self._instruments.get(symbol).currency)

    async def publish_snapshot(self) -> None:
        """Publish this account's book to the firm view (a no-op without one)."""
        if self._firm is not None:
            own = self._firm.snapshot(
                self._ledger.portfolio, self._quotes, self.account_open_orders()
            )
            await self._firm.publish(own)

    def check(self, request: OrderRequest) -> RiskDecision:
        """Dry run of every pre-trade control and the trading state (nothing sent or stored)."""
        return self._with_state_gate(self._controls(request))

    async def restore(self) -> ExecutionHistory | None:
        """Adopt the persisted repeated-execution history (call once, before the first order).

        A pair latched before a restart stays latched, and the fills of its window still count.
        A replay's account has nothing to restore (its state lives only for its run): None.
        """
        history = await self._sync_executions()
        if history is not None and history.latched:
            pairs = [f"{p.strategy_id or '-'}/{p.symbol}" for p in history.latched]
            await self._state.alert(
                self._event(
                    "throttles.repeated_execution_restored",
                    Severity.WARNING,
                    f"repeated-execution latch restored for {', '.join(pairs)}",
                    pairs=pairs,
                )
            )
        return history

    async def place(self, request: OrderRequest) -> OrderOutcome:
        """Check, persist and send ``request``; see the module docstring for the guarantees."""
        existing = await self._store.get_order_by_client_id(request.client_order_id)
        if existing is not None:
            return _outcome_of(existing, duplicate=True)
        try:
            async with self._gated():
                return await self._check_and_send(request)
        except OrderGateBusy as exc:
            self._metrics.record_risk_rejection(exc.code)
            return OrderOutcome(status=OutcomeStatus.REJECTED, message=exc.message, code=exc.code)

    async def _check_and_send(self, request: OrderRequest) -> OrderOutcome:
        # Again under the gate: another process may have placed this id in the meantime.
        existing = await self._store.get_order_by_client_id(request.client_order_id)
        if existing is not None:
            return _outcome_of(existing, duplicate=True)
        await self._sync_executions()  # a person may have released a latch from the CLI
        if self._firm is not None and self._firm.counts_others:
            await self._firm.refresh()  # the other venues' books, as their runs last wrote them
        try:
            decision = self.check(request)
        except TradingError as exc:
            self._metrics.record_risk_rejection(exc.code)
            return OrderOutcome(status=OutcomeStatus.REJECTED, message=exc.message, code=exc.code)
        return await self._send(request, decision, self._with_state_gate)

    @asynccontextmanager
    async def _gated(self) -> AsyncIterator[None]:
        """Hold the account's order gate and adopt the account as the store has it.

        Only a shared account has other processes to wait for: a replay's book is its own.
        """
        key = (id(self._store), self.account)
        if not self._state.shared or key in _GATES_HELD.get():
            yield
            return
        async with self._store.order_gate(self.account):
            token = _GATES_HELD.set(_GATES_HELD.get() | {key})
            try:
                await self._sync_book()
                yield
            finally:
                _GATES_HELD.reset(token)

    async def _sync_book(self) -> None:
        """Adopt the fills and the open orders other processes wrote for this account."""
        if self._book_sync is not None:
            await self._book_sync()
        stored = await self._store.list_orders(status=OPEN_STATUSES, account=self.account)
        elsewhere: list[Order] = []
        for order in stored:
            if order.order_id in self._open:
                continue
            if self._owner_alive is not None and not await self._owner_alive(order):
                await self._settle_orphan(order)
                continue
            elsewhere.append(order)
        self._elsewhere = tuple(elsewhere)

    async def _settle_orphan(self, order: Order) -> None:
        """Close an order whose process died: the paper broker that held it died with it.

        A process places and books while it holds the gate, so a PENDING order of another
        process seen here is one whose process died before its outcome was booked: whatever
        its paper broker did with it died in the same memory, and nothing of it is in the books.
        A working one can no longer fill. Both are cancelled, saying which.
        """
        fills = await self._store.list_fills(account=self.account)
        booked = [f for f in fills if f.order_id == order.order_id]
        filled = sum((f.quantity for f in booked), start=ZERO)
        if filled > order.filled_quantity:
            # Killed after its fills were booked, before its status was: the fills stand.
            if order.status is OrderStatus.PENDING:
                order = order.transition(OrderStatus.UNKNOWN, at=self._clock.now())
            notional = sum((f.quantity * f.price for f in booked), start=ZERO)
            order = order.model_copy(
                update={"filled_quantity": filled, "average_fill_price": notional / filled}
            )
        if filled >= order.quantity:
            status, why = OrderStatus.FILLED, "its process stopped after its fills were booked"
        elif order.status is OrderStatus.PENDING and not filled:
            status, why = OrderStatus.CANCELLED, ORPHAN_NEVER_BOOKED
        else:
            status, why = OrderStatus.CANCELLED, ORPHAN_CANCELLED
        settled = order.transition(status, at=self._clock.now(), reason=why)
        await self._store.save_order(settled)
        await self._state.alert(
            self._event(
                "orders.orphan_settled",
                Severity.WARNING,
                f"order {order.client_order_id} ({order.symbol}) {order.status}->{status}: {why}",
                order_id=order.order_id,
            )
        )

    def wire_kill_switch(self, *, flatten: bool, prepare: Sequence[KillAction] = ()) -> None:
        """Register what the kill switch does once KILLED is latched: cancel every open order,
        then, when the policy flattens (``kill_switch.flatten = "all"``), run ``prepare`` (e.g.
        adopt the fills and quotes other processes saw) and :meth:`flatten_all`."""

        async def cancel_everything() -> list[Order]:
            record = self._state.record
            return await self.cancel_all(by=record.set_by, why=f"kill switch: {record.reason}")

        self._state.on_kill(cancel_everything)
        if not flatten:
            return

        async def flatten_positions() -> list[OrderOutcome]:
            for step in prepare:
                await step()
            return await self.flatten_all(self._state.record.reason)

        self._state.on_kill(flatten_positions)

    async def flatten_all(self, reason: str) -> list[OrderOutcome]:
        """The kill switch's flatten: close every non-zero position, one order per symbol.

        Sends nothing unless the kill switch is engaged. Each order is built here, never by a
        caller: the full position, the opposite side, a market order the controls convert to a
        marketable IOC limit inside the collar, reason ``"kill switch flatten"``. It passes every
        pre-trade control except the trading-state gate, and must only shrink its position. A
        refused or incomplete flatten leaves the position as it is (fail closed). Every outcome is
        written to audit.system_events and published as an alert. The client order id is derived
        from the kill episode and the symbol, so processes sharing the database send at most one
        flatten per symbol per activation (a repeat activation is a new episode).
        """
        record = self._state.record
        if not record.kill_switch:
            return []
        try:
            return await self._flatten_gated(record.since, reason)
        except OrderGateBusy as exc:
            delays = FLATTEN_RETRY_DELAYS
            await self._state.alert(
                self._event(
                    "kill_switch.flatten_done",
                    Severity.CRITICAL,
                    f"kill switch flatten not run: {exc.message}; retrying in "
                    f"{delays[0]:g} s, up to {len(delays)} times",
                    kill_reason=reason,
                )
            )
            task = asyncio.create_task(self._retry_flatten(record.since, reason))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return [OrderOutcome(status=OutcomeStatus.REJECTED, message=exc.message, code=exc.code)]

    async def _flatten_gated(self, episode: datetime, reason: str) -> list[OrderOutcome]:
        # As place(): one process sends at a time, and the positions are read after the gate
        # has adopted what the other processes booked.
        async with self._gated():
            return await self._flatten_positions(episode, reason)

    async def _retry_flatten(self, episode: datetime, reason: str) -> None:
        """Try the flatten again while the same kill episode lasts and the gate stays busy.

        Safe to repeat: flatten orders' client ids come from the episode and the symbol, so a
        flatten another process sent meanwhile is found, never sent twice.
        """
        for attempt, delay in enumerate(FLATTEN_RETRY_DELAYS, start=1):
            await self._sleep(delay)
            record = self._state.record
            if not record.kill_switch or record.since != episode:
                return  # reset, or a new activation with a flatten of its own
            try:
                await self._flatten_gated(episode, reason)
                return
            except OrderGateBusy as exc:
                last = attempt == len(FLATTEN_RETRY_DELAYS)
                await self._state.alert(
                    self._event(
                        "kill_switch.flatten_done",
                        Severity.CRITICAL,
                        f"kill switch flatten retry {attempt} not run: {exc.message}"
                        + ("; giving up: flatten by hand" if last else ""),
                        kill_reason=reason,
                    )
                )

    async def close(self) -> None:
        """Stop the background work (a flatten waiting to be retried)."""
        tasks = list(self._background)  # each one leaves the set as it ends
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _flatten_positions(self, episode: datetime, reason: str) -> list[OrderOutcome]:
        outcomes: list[OrderOutcome] = []
        positions = sorted(
            (p for p in self._ledger.portfolio.positions.values() if p.quantity != 0),
            key=lambda p: p.symbol,
        )
        for position in positions:
            try:
                outcome = await self._flatten(position, episode=episode)
            except Exception as exc:  # noqa: BLE001 - fail closed: the position stays, alerted
                outcome = OrderOutcome(
                    status=OutcomeStatus.REJECTED,
                    message=f"{type(exc).__name__}: {exc}",
                    code="FLATTEN_FAILED",
                )
            after = self._ledger.portfolio.position(position.symbol).quantity
            await self._state.alert(self._flatten_event(position, outcome, after, reason))
            if not outcome.duplicate:  # a duplicate is another process's flatten, audited there
                await self._store.record_decisions([self._flatten_row(position, outcome, reason)])
            outcomes.append(outcome)
        left = [p.symbol for p in self._ledger.portfolio.positions.values() if p.quantity != 0]
        await self._state.alert(
            self._event(
                "kill_switch.flatten_done",
                Severity.CRITICAL if left else Severity.WARNING,
                f"kill switch flatten: {len(positions) - len(left)} of {len(positions)} positions "
                f"closed" + (f"; still open: {', '.join(sorted(left))}" if left else ""),
                kill_reason=reason,
                still_open=sorted(left),
            )
        )
        return outcomes

    def _flatten_row(self, position: Position, outcome: OrderOutcome, reason: str) -> Decision:
        side = Side.SELL if position.quantity > 0 else Side.BUY
        order = outcome.order
        return flatten_row(
            symbol=position.symbol,
            action=f"{side} {abs(position.quantity)} {position.symbol} -> {outcome.status}",
            kill_reason=reason,
            codes=outcome.codes,
            message=outcome.message,
            order_id=order.order_id if order is not None else None,
            by=self._state.record.set_by,
            at=self._clock.now(),
        )

    async def _flatten(self, position: Position, *, episode: datetime) -> OrderOutcome:
        request = OrderRequest(
            symbol=position.symbol,
            side=Side.SELL if position.quantity > 0 else Side.BUY,
            quantity=abs(position.quantity),
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.IOC,
            client_order_id=_flatten_client_id(episode, position.symbol),
            strategy_id=FLATTEN_STRATEGY,
            reason=FLATTEN_REASON,
        )
        existing = await self._store.get_order_by_client_id(request.client_order_id)
        if existing is not None:
            return _outcome_of(existing, duplicate=True)
        await self._sync_executions()
        try:
            decision = self._flatten_gate(self._controls(request))
        except TradingError as exc:
            self._metrics.record_risk_rejection(exc.code)
            return OrderOutcome(status=OutcomeStatus.REJECTED, message=exc.message, code=exc.code)
        if not decision.approved:
            # Saved, but not under the episode's id: that id would claim the flatten for every
            # process, and another one (whose resting orders blocked this one, say) may still
            # close the position once it has cancelled them.
            refused = (decision.order_to_send or request).model_copy(
                update={
                    "client_order_id": f"{request.client_order_id}-refused-{uuid.uuid4().hex[:8]}"
                }
            )
            return await self._reject(self._order_from(refused), decision)
        try:
            return await self._send(request, decision, self._flatten_gate)
        except DuplicateOrderError:
            # Another process claimed this flatten between our look-up and our write.
            claimed = await self._store.get_order_by_client_id(request.client_order_id)
            if claimed is None:
                raise
            return _outcome_of(claimed, duplicate=True)

    def _flatten_gate(self, decision: RiskDecision) -> RiskDecision:
        """The flatten's stand-in for the state gate: only while KILLED, and only reducing."""
        found: list[Violation] = []
        if not self._state.record.kill_switch:
            found.append(
                Violation(code=FLATTEN_NOT_KILLED, message="only the kill switch flattens")
            )
        if decision.order_to_send is not None and not decision.reduces_position:
            found.append(
                Violation(
                    code=FLATTEN_NOT_REDUCING,
                    message="with the open orders on its side it would not only shrink the "
                    "position",
                )
            )
        found = [v for v in found if v.code not in decision.codes]
        if not found:
            return decision
        return decision.model_copy(
            update={"approved": False, "violations": (*decision.violations, *found)}
        )

    def _controls(self, request: OrderRequest) -> RiskDecision:
        """Every pre-trade control on ``request``, without the trading-state gate."""
        instrument = self._instruments.get(request.symbol)
        view = self.exposure_view(request.symbol)
        view = view.model_copy(update={"throttles": self._throttles.snapshot(request, view.now)})
        return check_order(request, instrument, view, self._limits)

    async def _send(
        self,
        request: OrderRequest,
        decision: RiskDecision,
        gate: Callable[[RiskDecision], RiskDecision],
    ) -> OrderOutcome:
        """Persist and send a checked order; ``gate`` is re-applied at the moment it leaves."""
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
        late = gate(decision)
        if not late.approved:
            self._open.pop(order.order_id, None)
            return await self._reject(order, late)
        # The order leaves now (even a lost answer may have reached the broker): consume budget.
        self._throttles.record_submit(request, decision.notional, self._clock.now())
        started = self._timer()
        try:
            report = await self._broker.submit(order)
        except (BrokerError, TimeoutError, ConnectionError) as exc:
            self._observe_submit(started, answered=False)
            unknown = order.transition(OrderStatus.UNKNOWN, at=self._clock.now(), reason=str(exc))
            await self._record(unknown, ())
            return OrderOutcome(
                status=OutcomeStatus.UNKNOWN, risk=decision, order=unknown, message=str(exc)
            )
        self._observe_submit(started, answered=True)
        fills = await self._record(report.order, report.fills)
        outcome = _outcome_of(report.order, duplicate=False)
        return outcome.model_copy(update={"risk": decision, "fills": fills})

    def _observe_submit(self, started: float, *, answered: bool) -> None:
        # A venue without a connection of its own (REST) is "connected" while it answers.
        self._metrics.observe_order_latency(self._broker.name, self._timer() - started)
        self._metrics.set_broker_connected(self._broker.name, answered)

    async def cancel_all(self, symbol: str | None = None, *, by: str, why: str) -> list[Order]:
        """Cancel every working order (of ``symbol``). Never blocked by risk or throttles.

        Each cancel is a ``cancel`` row of audit.decisions naming ``by`` and ``why``.
        """
        cancelled = [await self.cancel(order.order_id) for order in self.open_orders(symbol)]
        if cancelled:
            now = self._clock.now()
            rows = [cancel_row(order, by=by, why=why, at=now) for order in cancelled]
            await self._store.record_decisions(rows)
        return cancelled

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

    async def record_report(self, report: BrokerReport) -> tuple[Fill, ...]:
        """Book what the venue said about an order (reconciliation's way into the books).

        The same path as a submit's answer: the order saved, each new fill counted once.
        """
        return await self._record(report.order, report.fills)

    async def on_quote(self, quote: Quote) -> list[Fill]:
        """Feed a quote to the broker; resting orders that execute are recorded."""
        return await self._feed(quote, lambda: self._broker.on_quote(quote))

    async def on_bar_open(self, quote: Quote, *, known_volume: Decimal | None) -> list[Fill]:
        """A bar opens at ``quote``: a simulated venue works its book against the bar (see
        :class:`~trading_core.ports.broker.BarMarket`); any other broker just gets the quote."""
        broker = self._bar_market
        if broker is not None:
            return await self._feed(
                quote, lambda: broker.open_bar(quote, known_volume=known_volume)
            )
        return await self.on_quote(quote)

    async def on_bar_close(self, bar: Bar, quote: Quote) -> list[Fill]:
        """A bar closes at ``quote``: resting orders its range reached may fill (simulated)."""
        broker = self._bar_market
        if broker is not None:
            return await self._feed(quote, lambda: broker.close_bar(bar, quote))
        return await self.on_quote(quote)

    async def _feed(
        self, quote: Quote, deliver: Callable[[], Awaitable[Sequence[BrokerReport]]]
    ) -> list[Fill]:
        self._quotes.update(quote)
        fills: list[Fill] = []
        # Under the gate: a reconciliation pass (which holds it) never sees half a report. With
        # nothing of ours working there is nothing to report, and every bar of every symbol
        # would otherwise pay the gate's reads (a fill that does come is gated by _record).
        gate = self._gated() if self._open else contextlib.nullcontext()
        try:
            async with gate:
                reports: Sequence[BrokerReport] = await deliver()
                for report in reports:
                    fills.extend(await self._record(report.order, report.fills))
        except OrderGateBusy as exc:
            # The quote reaches the broker again with the next one; a run must not end here.
            log.warning("quote for %s not fed to the broker: %s", quote.symbol, exc.message)
        return fills

    def gated(self) -> AbstractAsyncContextManager[None]:
        """Hold the account's order gate: no order of any process on the database is checked,
        sent or booked meanwhile (what a reconciliation pass needs to compare the books)."""
        return self._gated()

    async def _record(self, order: Order, fills: Sequence[Fill]) -> tuple[Fill, ...]:
        """Book ``fills``, then save ``order``'s new status (the order is written last).

        Crash safety: each fill and the position it leaves are one transaction, and the order's
        status follows them. A process killed in between leaves the order working in the store,
        so the next start asks the venue again and the fills already booked count once.
        """
        if self._owner_alive is not None and await self._settled_elsewhere(order):
            return ()
        if not fills:
            return await self._save_status(order)
        async with self._gated():  # the position written must include the others' fills
            return await self._book(order, fills)

    async def _settled_elsewhere(self, order: Order) -> bool:
        """Whether another process settled ``order`` as an orphan (it took this process for
        dead: a lease lost with its database connection). Settlement stands, fail closed: the
        order is dropped here too and nothing more is booked for it, so the caps the other
        processes checked without it still hold."""
        stored = await self._store.get_order(order.order_id)
        if stored is None or stored.status_reason not in ORPHAN_REASONS:
            return False
        self._open.pop(order.order_id, None)
        with contextlib.suppress(TradingError):
            await self._broker.cancel(order.order_id)
        await self._state.alert(
            self._event(
                "orders.orphan_report_refused",
                Severity.CRITICAL,
                f"order {order.client_order_id} was settled by another process as an orphan; "
                f"its {order.status} report was not booked (was this process's lease lost?)",
                order_id=order.order_id,
            )
        )
        return True

    async def _book(self, order: Order, fills: Sequence[Fill]) -> tuple[Fill, ...]:
        applied: list[Fill] = []
        for fill in fills:
            position = self._ledger.position_after(fill)
            # The store is the truth: a fill it already holds (a repeated report) counts once.
            if position is None or not await self._store.book_fill(
                fill, position, account=self.account
            ):
                continue
            self._ledger.apply_fill(fill)
            applied.append(fill)
            await self._count_execution(fill)
            self._metrics.record_fill()
        await self._save_status(order)
        if applied:
            try:
                await self.publish_snapshot()
            except TradingError as exc:  # booked already; the next scheduled publish retries
                log.warning("firm snapshot not published after a fill: %s", exc)
        return tuple(applied)

    async def _save_status(self, order: Order) -> tuple[Fill, ...]:
        await self._store.save_order(order)
        if order.status.is_open:
            self._open[order.order_id] = order
        else:
            self._open.pop(order.order_id, None)
        self._metrics.record_order(order.status)
        return ()

    async def _sync_executions(self) -> ExecutionHistory | None:
        """Adopt the shared account's persisted repeated-execution history (the truth).

        None for a replay's account (nothing else writes it) and when the history is unreadable
        (the state service has halted the account; what this process knows is kept).
        """
        if not self._state.shared:
            return None
        history = await self._state.load_executions()
        if history is not None:
            self._throttles.executions.adopt(history)
        return history

    async def _count_execution(self, fill: Fill) -> None:
        """Count ``fill`` for the repeated-execution latch and persist the history at once."""
        history = await self._sync_executions()
        if self._throttles.record_fill(fill):
            pair = f"{fill.strategy_id or '-'}/{fill.symbol}"
            await self._state.alert(
                self._event(
                    "throttles.repeated_execution_latched",
                    Severity.CRITICAL,
                    f"repeated executions latched {pair}: its next order halts trading until a "
                    f"person releases it (trading-core state release)",
                    strategy_id=fill.strategy_id or "",
                    symbol=fill.symbol,
                )
            )
        if history is not None:  # an unreadable history is left for a person to review
            await self._state.save_executions(self._throttles.executions.history(self._clock.now()))

    def _event(self, kind: str, severity: Severity, message: str, **details: object) -> SystemEvent:
        return SystemEvent(
            timestamp=self._clock.now(),
            event_type=kind,
            component=COMPONENT,
            severity=severity,
            message=message,
            details=details,
        )

    def _flatten_event(
        self, position: Position, outcome: OrderOutcome, after: Decimal, reason: str
    ) -> SystemEvent:
        before, order = position.quantity, outcome.order
        if outcome.duplicate:
            what = f"already sent for this kill ({outcome.status}); position now {after}"
        elif outcome.status is OutcomeStatus.REJECTED:
            why = ", ".join(outcome.codes) or outcome.message
            what = f"refused ({why}): position {before} stays"
        else:
            what = f"{outcome.status}: position {before} -> {after}"
        return self._event(
            "kill_switch.flatten",
            Severity.WARNING if after == 0 else Severity.CRITICAL,
            f"kill switch flatten of {position.symbol} {what}",
            symbol=position.symbol,
            position_before=str(before),
            position_after=str(after),
            status=str(outcome.status),
            duplicate=outcome.duplicate,
            codes=outcome.codes,
            error=outcome.message,
            order_id=order.order_id if order else None,
            client_order_id=order.client_order_id if order else None,
            kill_reason=reason,
        )

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
            account=self.account,
            created_at=now,
            updated_at=now,
        )


def _flatten_client_id(episode: datetime, symbol: str) -> str:
    """The same id for one symbol in one kill episode, in every process (at most one is sent)."""
    digest = hashlib.sha256(f"{episode.isoformat()}|{symbol}".encode()).hexdigest()
    return f"kill-flatten-{digest[:32]}"


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
