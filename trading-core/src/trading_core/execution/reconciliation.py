"""Reconciliation: the venue's open orders, balances and cash against the books, failing closed.

NautilusTrader's rule, kept here: a live run does not trade until the books agree with the venue.

Each pass (:meth:`Reconciler.at_start`, :meth:`Reconciler.periodic`):

1. **Working orders of the book** (PENDING, SENT, PARTIAL, UNKNOWN in the store) are settled from
   the venue: followed again after a restart, their executions booked (a fill that happened
   while the process was down is not lost), an order the venue never received (no order under its
   client id) closed as rejected.
2. **Open orders at the venue the book does not hold** (placed on the venue's site, or by another
   program) are cancelled or adopted, by policy (``reconciliation.unknown_orders``). An order open
   at the venue that the book holds as closed is a mismatch.
3. **Balances**: each instrument's base asset at the venue against the book's position, and the
   venue's cash against the ledger's, within tolerances capped in code.

A mismatch beyond tolerance sets REDUCING until a person resumes (only risk-reducing orders
leave), raises a critical alert, and like every pass writes a row to ``audit.decisions``. At start
a failed pass raises :class:`ReconciliationFailed`: the run refuses to trade. A venue that cannot
be reached fails the start outright, and a periodic check after ``failures_before_reducing``
misses in a row.

The first pass an account ever has adopts the venue's balances as the opening book (positions
valued at the venue's last price), written to the audit. Cash has no book across restarts: each
start adopts the venue's, and periodic passes check it from then on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal

from trading_core.domain.base import ZERO, Frozen
from trading_core.domain.errors import BrokerError, ConfigurationError, TradingError
from trading_core.domain.order import Order, OrderStatus, TimeInForce
from trading_core.domain.position import Position
from trading_core.domain.signal import Decision, DecisionType
from trading_core.domain.state import Severity, SystemEvent
from trading_core.instruments import InstrumentRegistry
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.broker import BrokerReport
from trading_core.ports.clock import Clock
from trading_core.ports.store import Store
from trading_core.ports.venue import VenueAccount, VenueOrder
from trading_core.settings import ReconciliationSettings

from .order_service import OrderService
from .trading_state import TradingStateService

COMPONENT: Final = "execution.reconciliation"
BY: Final = "reconciliation"
WORKING: Final = (OrderStatus.PENDING, OrderStatus.SENT, OrderStatus.PARTIAL, OrderStatus.UNKNOWN)
EXTERNAL_STRATEGY: Final = "external"
CASH_FLOOR: Final = Decimal("0.01")
"""The smallest cash difference ever reported (one cent of the account currency)."""

Trigger = Literal["start", "periodic", "daily"]


class ReconciliationReport(Frozen):
    """What one pass found and did; ``passed`` when nothing is left that the books disagree on."""

    account: str
    trigger: Trigger
    at: datetime
    settled: tuple[str, ...] = ()
    adopted: tuple[str, ...] = ()
    cancelled: tuple[str, ...] = ()
    mismatches: tuple[str, ...] = ()
    error: str | None = None
    """The venue could not be read; nothing was compared."""

    @property
    def passed(self) -> bool:
        return not self.mismatches and self.error is None

    def summary(self) -> str:
        """One line: the verdict, then what was settled, adopted, cancelled or found."""
        if self.error is not None:
            verdict = f"{self.account} not reconciled ({self.trigger}): {self.error}"
        elif self.mismatches:
            verdict = f"{self.account} mismatch ({self.trigger}): {'; '.join(self.mismatches)}"
        else:
            verdict = f"{self.account} reconciled ({self.trigger})"
        parts = [
            f"{label} {', '.join(items)}"
            for label, items in (
                ("settled", self.settled),
                ("adopted", self.adopted),
                ("cancelled", self.cancelled),
            )
            if items
        ]
        return "; ".join([verdict, *parts])


class ReconciliationFailed(TradingError):
    """The start-up reconciliation did not pass: the run must not trade."""

    def __init__(self, report: ReconciliationReport) -> None:
        super().__init__(
            f"{report.summary()}; trading refused until the books agree (settle the account, "
            "or take the venue's holdings as the book with `trading-core state adopt-venue "
            "--reason TEXT`; then `trading-core state resume --reason TEXT` and start again)"
        )
        self.report = report


ADOPT_NEXT_START = "adopt_next_start"


def reconciliation_state_key(account: str) -> str:
    """Where an account's last passed reconciliation is recorded (the first one adopts)."""
    return f"reconciliation:{account}"


async def adopt_venue_at_next_start(
    store: Store, clock: Clock, *, account: str, by: str, reason: str
) -> None:
    """A person's decision: the next start takes the venue's holdings as the book.

    For a difference the books cannot explain (a transfer, a trade on the venue's own site):
    positions that differ are replaced at the venue's last price, and audited as adopted.
    """
    await store.put_state(
        reconciliation_state_key(account),
        {ADOPT_NEXT_START: True, "by": by, "reason": reason, "at": clock.now().isoformat()},
    )
    await store.record_event(
        SystemEvent(
            timestamp=clock.now(),
            event_type="reconciliation.adopt_requested",
            component=COMPONENT,
            severity=Severity.WARNING,
            message=f"{by}: the next start adopts {account}'s holdings as the book ({reason})",
        )
    )


class Reconciler:
    """Reconciles one account at one venue; see the module docstring for what a pass does."""

    def __init__(
        self,
        *,
        venue: VenueAccount,
        orders: OrderService,
        store: Store,
        state: TradingStateService,
        clock: Clock,
        instruments: InstrumentRegistry,
        symbols: Sequence[str],
        ledger: PortfolioLedger,
        policy: ReconciliationSettings,
        run_id: str | None = None,
    ) -> None:
        self._venue = venue
        self._orders = orders
        self._store = store
        self._state = state
        self._clock = clock
        self._instruments = instruments
        self._ledger = ledger
        self._policy = policy
        self._run_id = run_id
        self._account = orders.account
        self._assets = _base_assets(symbols)
        self._failures = 0
        self.last: ReconciliationReport | None = None

    @property
    def state_key(self) -> str:
        """Where the account's last passed reconciliation is recorded (the first one adopts)."""
        return reconciliation_state_key(self._account)

    async def at_start(self) -> ReconciliationReport:
        """Settle, compare and open the book from the venue; raise unless the books agree."""
        now = self._clock.now()
        found = _Findings()
        try:
            await self._settle_working_orders(found)
            await self._handle_venue_orders(found)
            balances = await self._venue.balances()
            last_pass = await self._store.get_state(self.state_key)
            # The first pass ever, or one a person asked for, takes the venue's holdings.
            first = last_pass is None or bool(last_pass.get(ADOPT_NEXT_START))
            positions = await self._opening_positions(balances, found, adopt=first)
            marks = {s: await self._venue.last_price(s) for s, p in positions.items() if p.quantity}
        except BrokerError as exc:
            report = found.report(self._account, "start", now, error=str(exc))
            await self._conclude(report)
            raise ReconciliationFailed(report) from exc
        cash = balances.get(self._ledger.portfolio.base_currency, ZERO)
        self._ledger.open_book(cash=cash, positions=positions, marks=marks, at=now)
        report = found.report(self._account, "start", now)
        await self._conclude(report)
        if not report.passed:
            raise ReconciliationFailed(report)
        return report

    async def periodic(self, trigger: Trigger = "periodic") -> ReconciliationReport:
        """One pass while trading (between bars: nothing is in flight)."""
        now = self._clock.now()
        found = _Findings()
        try:
            await self._settle_working_orders(found)
            await self._handle_venue_orders(found)
            balances = await self._settled_balances(found)
        except BrokerError as exc:
            self._failures += 1
            report = found.report(self._account, trigger, now, error=str(exc))
            await self._conclude(report)
            return report
        self._failures = 0
        self._compare_positions(balances, found)
        self._compare_cash(balances, found)
        report = found.report(self._account, trigger, now)
        await self._conclude(report)
        return report

    # --- the steps ----------------------------------------------------------------------------

    async def _settle_working_orders(self, found: _Findings) -> int:
        """Bring every working order of the book up to what the venue says; returns new fills."""
        booked = 0
        fees = await self._booked_fees()
        for order in await self._store.list_orders(status=WORKING, account=self._account):
            report = await self._locate(order, fees.get(order.order_id, ZERO))
            if report is None:
                continue
            fills = await self._orders.record_report(report)
            booked += len(fills)
            if report.order.status is not order.status or fills:
                moved = f"{order.status}->{report.order.status}"
                found.settled.append(f"{order.client_order_id} {moved}")
        return booked

    async def _locate(self, order: Order, commission_booked: Decimal) -> BrokerReport | None:
        """``order`` at the venue: refreshed by txid, found by client id, or shown never sent."""
        if order.broker_order_id is None:
            located = await self._venue.find_by_client_id(order.client_order_id)
            if located is None or located.broker_order_id is None:
                # The venue has no order under its client id: it never arrived.
                reason = f"never reached {self._venue.name} (no order with its client id)"
                closed = order.transition(OrderStatus.REJECTED, at=self._clock.now(), reason=reason)
                return BrokerReport(order=closed)
            order = order.transition(
                OrderStatus.SENT, at=self._clock.now(), broker_order_id=located.broker_order_id
            )
        elif order.status is OrderStatus.PENDING:
            order = order.transition(OrderStatus.SENT, at=self._clock.now())
        self._venue.track(order, commission_booked=commission_booked)
        return await self._venue.refresh(order)

    async def _handle_venue_orders(self, found: _Findings) -> None:
        """Open orders at the venue the book does not hold: cancel or adopt; closed ones clash."""
        known = await self._store.list_orders(account=self._account)
        by_txid = {o.broker_order_id: o for o in known if o.broker_order_id}
        by_client = {self._venue.venue_client_id(o.client_order_id): o for o in known}
        for venue_order in await self._venue.venue_open_orders():
            ours = by_txid.get(venue_order.broker_order_id) or (
                by_client.get(venue_order.venue_client_id) if venue_order.venue_client_id else None
            )
            if ours is not None:
                if ours.status.is_terminal:
                    found.mismatches.append(
                        f"{venue_order.broker_order_id} is open at {self._venue.name} but the "
                        f"book has {ours.client_order_id} {ours.status}"
                    )
                continue
            if venue_order.symbol not in self._assets.values():
                found.mismatches.append(
                    f"{venue_order.broker_order_id} ({venue_order.symbol}) is open at "
                    f"{self._venue.name} in a symbol this run does not trade"
                )
            elif self._policy.unknown_orders == "adopt":
                await self._adopt(venue_order)
                found.adopted.append(f"order {venue_order.broker_order_id}")
            else:
                await self._venue.cancel_venue_order(venue_order)
                found.cancelled.append(f"order {venue_order.broker_order_id}")

    async def _adopt(self, venue_order: VenueOrder) -> None:
        """Book a venue order as ours: counted by every control, its executions booked."""
        now = self._clock.now()
        order = Order(
            order_id=f"{self._venue.name}:{venue_order.broker_order_id}",
            client_order_id=f"external:{self._venue.name}:{venue_order.broker_order_id}",
            symbol=venue_order.symbol,
            side=venue_order.side,
            quantity=venue_order.quantity,
            order_type=venue_order.order_type,
            limit_price=venue_order.limit_price,
            time_in_force=TimeInForce.GTC,
            status=OrderStatus.SENT,
            strategy_id=EXTERNAL_STRATEGY,
            reason=f"adopted from {self._venue.name} by reconciliation",
            broker=self._venue.name,
            broker_order_id=venue_order.broker_order_id,
            created_at=min(venue_order.opened_at, now),
            updated_at=now,
            account=self._account,
        )
        await self._orders.record_report(BrokerReport(order=order))
        self._venue.track(order)
        await self._orders.record_report(await self._venue.refresh(order))

    async def _settled_balances(self, found: _Findings) -> Mapping[str, Decimal]:
        """Balances with no execution booked meanwhile (else read once more)."""
        balances = await self._venue.balances()
        if await self._settle_working_orders(found):
            balances = await self._venue.balances()  # a fill landed between the two reads
        return balances

    async def _opening_positions(
        self, balances: Mapping[str, Decimal], found: _Findings, *, adopt: bool
    ) -> dict[str, Position]:
        """The book's positions to trade from; the first pass adopts the venue's balances."""
        positions = dict(self._ledger.portfolio.positions)
        if not adopt:
            self._compare_positions(balances, found)
            return positions
        for asset, symbol in self._assets.items():
            held = balances.get(asset, ZERO)
            if held == self._ledger.portfolio.position(symbol).quantity:
                continue
            price = await self._venue.last_price(symbol)
            positions[symbol] = Position(
                symbol=symbol, quantity=held, average_price=price, updated_at=self._clock.now()
            )
            await self._store.save_position(positions[symbol], account=self._account)
            found.adopted.append(f"{held} {asset} as {symbol} at {price}")
        return positions

    def _compare_positions(self, balances: Mapping[str, Decimal], found: _Findings) -> None:
        for asset, symbol in self._assets.items():
            venue = balances.get(asset, ZERO)
            book = self._ledger.portfolio.position(symbol).quantity
            pct = self._policy.quantity_tolerance_pct / 100
            allowed = max(self._instruments.get(symbol).lot_size, pct * max(abs(venue), abs(book)))
            if abs(venue - book) > allowed:
                found.mismatches.append(
                    f"{asset}: {self._venue.name} holds {venue}, the book {book} ({symbol})"
                )

    def _compare_cash(self, balances: Mapping[str, Decimal], found: _Findings) -> None:
        currency = self._ledger.portfolio.base_currency
        venue = balances.get(currency, ZERO)
        book = self._ledger.portfolio.cash
        pct = self._policy.cash_tolerance_pct / 100
        allowed = max(CASH_FLOOR, pct * max(abs(venue), abs(book)))
        if abs(venue - book) > allowed:
            found.mismatches.append(
                f"{currency} cash: {self._venue.name} holds {venue}, the ledger {book}"
            )

    async def _booked_fees(self) -> dict[str, Decimal]:
        fees: dict[str, Decimal] = {}
        for fill in await self._store.list_fills(account=self._account):
            fees[fill.order_id] = fees.get(fill.order_id, ZERO) + fill.commission
        return fees

    # --- the verdict --------------------------------------------------------------------------

    async def _conclude(self, report: ReconciliationReport) -> None:
        """Audit the pass; a mismatch (or too many misses in a row) sets REDUCING and alerts."""
        self.last = report
        # A start that cannot reach the venue only refuses (the run does not trade at all); a
        # run already trading is reduced once the venue has been out of reach several times.
        reduce = bool(report.mismatches) or (
            report.error is not None
            and report.trigger != "start"
            and self._failures >= self._policy.failures_before_reducing
        )
        action = "reconciled"
        if report.mismatches:
            action = "mismatch: trading reduced to closing orders"
        elif report.error is not None:
            action = "venue unreachable" + (": trading reduced to closing orders" if reduce else "")
        await self._store.record_decisions(
            [
                Decision(
                    timestamp=report.at,
                    decision_type=DecisionType.RECONCILIATION,
                    symbol="*",
                    final_action=action,
                    reasoning=report.summary(),
                    risk_check=report.model_dump(mode="json"),
                    run_id=self._run_id,
                )
            ]
        )
        if reduce:
            await self._state.reduce(reason=report.summary(), by=BY)
            await self._state.alert(self._event(report, Severity.CRITICAL))
        elif report.adopted or report.cancelled or report.settled:
            await self._state.alert(self._event(report, Severity.WARNING))
        if report.passed:
            await self._store.put_state(self.state_key, {"at": report.at.isoformat()})

    def _event(self, report: ReconciliationReport, severity: Severity) -> SystemEvent:
        kind = "mismatch" if not report.passed else "actions"
        return SystemEvent(
            timestamp=report.at,
            event_type=f"reconciliation.{kind}",
            component=COMPONENT,
            severity=severity,
            message=report.summary(),
            details=report.model_dump(mode="json"),
        )


class _Findings:
    """What a pass collects before it becomes a report."""

    def __init__(self) -> None:
        self.settled: list[str] = []
        self.adopted: list[str] = []
        self.cancelled: list[str] = []
        self.mismatches: list[str] = []

    def report(
        self, account: str, trigger: Trigger, at: datetime, *, error: str | None = None
    ) -> ReconciliationReport:
        return ReconciliationReport(
            account=account,
            trigger=trigger,
            at=at,
            settled=tuple(self.settled),
            adopted=tuple(self.adopted),
            cancelled=tuple(self.cancelled),
            mismatches=tuple(self.mismatches),
            error=error,
        )


def _base_assets(symbols: Sequence[str]) -> dict[str, str]:
    """Base asset -> symbol (``BTC`` -> ``BTC/USD``); one symbol per asset in a run."""
    assets: dict[str, str] = {}
    for symbol in symbols:
        base = symbol.split("/")[0]
        if base in assets:
            raise ConfigurationError(
                f"{assets[base]} and {symbol} share the base asset {base}: a live run can "
                "reconcile one symbol per asset"
            )
        assets[base] = symbol
    return assets
