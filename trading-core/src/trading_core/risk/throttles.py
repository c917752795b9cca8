"""Flow throttles: sliding-window counters fed with timestamps (no clock inside).

Each counter separates the question from the bookkeeping: ``would_allow(now, ...)`` and the counts
are pure queries, and ``record...`` is a separate call made only when an order actually leaves (or a
fill arrives). A dry run of the pre-trade checks therefore never consumes any budget. Cancels never
pass through here, so they are never throttled; ``check_order`` lets risk-reducing orders bypass the
flow throttles (the repeated-execution latch excepted: it means HALTED).

Only the repeated-execution monitor's state outlives a process (:class:`ExecutionHistory`, which
the order service persists): its latch holds until a person releases it. The other counters start
empty in a new process.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import Field, NonNegativeInt

from trading_core.domain.base import ZERO, Frozen, NonNegativeDecimal, UtcDatetime
from trading_core.domain.fill import Fill
from trading_core.domain.order import OrderType, Side
from trading_core.risk import limits
from trading_core.risk.risk_config import RiskLimits


class OrderContent(Protocol):
    """What the throttles read from an order request (an ``OrderRequest`` or an ``Order``)."""

    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def order_type(self) -> OrderType: ...
    @property
    def limit_price(self) -> Decimal | None: ...
    @property
    def stop_price(self) -> Decimal | None: ...
    @property
    def strategy_id(self) -> str | None: ...


def content_hash(order: OrderContent) -> str:
    """Hash of what an order does (symbol, side, quantity, type, prices), not of its ids.

    Decimals are normalised so ``10`` and ``10.00`` are the same content.
    """

    def plain(value: Decimal | None) -> str:
        return "-" if value is None else format(value.normalize(), "f")

    text = "|".join(
        (
            order.symbol,
            str(order.side),
            plain(order.quantity),
            str(order.order_type),
            plain(order.limit_price),
            plain(order.stop_price),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


class SlidingWindow:
    """Amounts recorded at timestamps; queries sum those within ``(now - length, now]``.

    Events stamped after ``now`` still count: a clock that stepped back must not free budget.
    """

    def __init__(self, length: timedelta) -> None:
        if length <= timedelta(0):
            raise ValueError("window length must be positive")
        self._length = length
        self._events: deque[tuple[datetime, Decimal]] = deque()
        self._latest: datetime | None = None

    def count(self, now: datetime) -> int:
        return sum(1 for at, _ in self._events if at > now - self._length)

    def total(self, now: datetime) -> Decimal:
        return sum((amount for at, amount in self._events if at > now - self._length), ZERO)

    def times(self, now: datetime) -> tuple[datetime, ...]:
        """Timestamps of the events a query at ``now`` counts, oldest first."""
        return tuple(sorted(at for at, _ in self._events if at > now - self._length))

    def add(self, at: datetime, amount: Decimal = Decimal(1)) -> None:
        _require_aware(at)
        self._events.append((at, amount))
        self._latest = at if self._latest is None else max(self._latest, at)
        # Forget what a query at the latest time can no longer see; keeps the queries short.
        horizon = self._latest - self._length
        self._events = deque(e for e in self._events if e[0] > horizon)


class SubmitThrottle:
    """Orders sent per second and per minute; the excess is denied (``RATE_LIMITED``)."""

    def __init__(self, per_second: int, per_minute: int) -> None:
        self.per_second = per_second
        self.per_minute = per_minute
        self._second = SlidingWindow(timedelta(seconds=1))
        self._minute = SlidingWindow(timedelta(seconds=60))

    def counts(self, now: datetime) -> tuple[int, int]:
        """Orders sent within the last second and the last minute."""
        return self._second.count(now), self._minute.count(now)

    def would_allow(self, now: datetime) -> bool:
        in_second, in_minute = self.counts(now)
        return in_second < self.per_second and in_minute < self.per_minute

    def record(self, at: datetime) -> None:
        self._second.add(at)
        self._minute.add(at)


class RollingNotional:
    """Notional sent within a rolling window against a share of equity (``WINDOW_NOTIONAL_...``)."""

    def __init__(
        self, max_pct: Decimal, window_seconds: int = limits.WINDOW_NOTIONAL_SECONDS
    ) -> None:
        self.max_pct = max_pct
        self._window = SlidingWindow(timedelta(seconds=window_seconds))

    def total(self, now: datetime) -> Decimal:
        return self._window.total(now)

    def would_allow(self, now: datetime, notional: Decimal, equity: Decimal) -> bool:
        return equity > 0 and self.total(now) + notional <= equity * self.max_pct / 100

    def record(self, at: datetime, notional: Decimal) -> None:
        self._window.add(at, notional)


class DuplicateDetector:
    """Same order content within the window is a duplicate (``DUPLICATE_ORDER``).

    Client order id permanence is the order service's job; this catches a loop or a retry that
    invents a new id for the same order.
    """

    def __init__(self, window_seconds: int = limits.DUPLICATE_WINDOW_SECONDS) -> None:
        self._length = timedelta(seconds=window_seconds)
        self._seen: dict[str, datetime] = {}

    def would_allow(self, now: datetime, digest: str) -> bool:
        last = self._seen.get(digest)
        return last is None or last <= now - self._length

    def record(self, at: datetime, digest: str) -> None:
        _require_aware(at)
        self._seen[digest] = max(at, self._seen.get(digest, at))
        horizon = at - self._length
        self._seen = {d: t for d, t in self._seen.items() if t > horizon}


class ExecutionPair(Frozen):
    """One strategy and symbol as persisted: its recent fills and, when latched, since when."""

    strategy_id: str = ""
    """Empty for orders without a strategy."""
    symbol: str = Field(min_length=1)
    latched_at: UtcDatetime | None = None
    fills: tuple[UtcDatetime, ...] = ()
    """Fill times still inside the window when written: a restart does not reset the count."""


class ExecutionHistory(Frozen):
    """What :class:`RepeatedExecutionMonitor` must not forget across a restart (JSON-safe)."""

    version: Literal[1] = 1
    pairs: tuple[ExecutionPair, ...] = ()

    @property
    def latched(self) -> tuple[ExecutionPair, ...]:
        return tuple(p for p in self.pairs if p.latched_at is not None)

    def find(self, strategy_id: str | None, symbol: str) -> ExecutionPair | None:
        key = _key(strategy_id, symbol)
        return next((p for p in self.pairs if (p.strategy_id, p.symbol) == key), None)

    def without(self, strategy_id: str | None, symbol: str) -> ExecutionHistory:
        """The history with the pair forgotten (a person released it)."""
        key = _key(strategy_id, symbol)
        kept = tuple(p for p in self.pairs if (p.strategy_id, p.symbol) != key)
        return self.model_copy(update={"pairs": kept})

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> ExecutionHistory:
        """Restore a dumped history; raises pydantic ``ValidationError`` if it is corrupt."""
        return cls.model_validate(dict(data))


class RepeatedExecutionMonitor:
    """Fills per strategy and symbol; more than ``max_fills`` in the window latches HALTED.

    The latch holds until a person calls :meth:`release`; the window moving on does not clear it.
    :meth:`history` and :meth:`adopt` carry the latches and the window across a restart.
    """

    def __init__(
        self, max_fills: int, window_seconds: int = limits.REPEATED_EXECUTION_SECONDS
    ) -> None:
        self.max_fills = max_fills
        self._length = timedelta(seconds=window_seconds)
        self._windows: dict[tuple[str, str], SlidingWindow] = {}
        self._latched: dict[tuple[str, str], datetime] = {}

    def fills_in_window(self, now: datetime, strategy_id: str | None, symbol: str) -> int:
        window = self._windows.get(_key(strategy_id, symbol))
        return window.count(now) if window else 0

    def is_latched(self, strategy_id: str | None, symbol: str) -> bool:
        return _key(strategy_id, symbol) in self._latched

    def would_allow(self, now: datetime, strategy_id: str | None, symbol: str) -> bool:
        return not self.is_latched(strategy_id, symbol) and (
            self.fills_in_window(now, strategy_id, symbol) <= self.max_fills
        )

    def record_fill(self, at: datetime, strategy_id: str | None, symbol: str) -> bool:
        """Count one fill; returns True when this fill latched the pair."""
        key = _key(strategy_id, symbol)
        window = self._windows.setdefault(key, SlidingWindow(self._length))
        window.add(at)
        if key not in self._latched and window.count(at) > self.max_fills:
            self._latched[key] = at
            return True
        return False

    def release(self, strategy_id: str | None, symbol: str) -> None:
        """A person re-enables the pair: the latch and its fill history are cleared."""
        key = _key(strategy_id, symbol)
        self._latched.pop(key, None)
        self._windows.pop(key, None)

    @property
    def latched(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._latched)

    def history(self, now: datetime) -> ExecutionHistory:
        """Every latched pair, and the fills a query at ``now`` still counts, to persist."""
        pairs = []
        for key in sorted(set(self._windows) | set(self._latched)):
            window = self._windows.get(key)
            fills = window.times(now) if window else ()
            latched_at = self._latched.get(key)
            if fills or latched_at is not None:
                pairs.append(
                    ExecutionPair(
                        strategy_id=key[0], symbol=key[1], latched_at=latched_at, fills=fills
                    )
                )
        return ExecutionHistory(pairs=tuple(pairs))

    def adopt(self, history: ExecutionHistory) -> None:
        """Replace what this monitor knows with ``history`` (the persisted truth)."""
        self._windows, self._latched = {}, {}
        for pair in history.pairs:
            key = (pair.strategy_id, pair.symbol)
            if pair.fills:
                window = self._windows.setdefault(key, SlidingWindow(self._length))
                for at in pair.fills:
                    window.add(at)
            if pair.latched_at is not None:
                self._latched[key] = pair.latched_at


class DailyOrderCounter:
    """Orders sent per UTC day; resets at UTC midnight (``DAILY_ORDER_LIMIT``)."""

    def __init__(self, max_orders: int) -> None:
        self.max_orders = max_orders
        self._day: date | None = None
        self._count = 0

    def count(self, now: datetime) -> int:
        return self._count if self._day == _utc_day(now) else 0

    def would_allow(self, now: datetime) -> bool:
        return self.count(now) < self.max_orders

    def record(self, at: datetime) -> None:
        day = _utc_day(at)
        if self._day is None or day > self._day:
            self._day, self._count = day, 0
        if day == self._day:
            self._count += 1


class ThrottleView(Frozen):
    """What the throttles know about one prospective order; the ``*_denial`` methods judge it.

    Each judgement returns why the order is denied, or None. The defaults describe an account
    with no history.
    """

    submits_last_second: NonNegativeInt = 0
    submits_last_minute: NonNegativeInt = 0
    window_notional: NonNegativeDecimal = ZERO
    orders_today: NonNegativeInt = 0
    duplicate_of_recent: bool = False
    fills_in_execution_window: NonNegativeInt = 0
    repeated_execution_latched: bool = False

    def rate_denial(self, risk_limits: RiskLimits) -> str | None:
        for sent, cap, span in (
            (self.submits_last_second, risk_limits.max_orders_per_second, "second"),
            (self.submits_last_minute, risk_limits.max_orders_per_minute, "minute"),
        ):
            if sent >= cap:
                return f"{sent} orders sent in the last {span} (max {cap}); denied, not queued"
        return None

    def window_denial(
        self, risk_limits: RiskLimits, notional: Decimal, equity: Decimal
    ) -> str | None:
        cap = equity * risk_limits.window_notional_pct / 100
        if self.window_notional + notional > cap:
            return (
                f"{self.window_notional} sent in the last {limits.WINDOW_NOTIONAL_SECONDS}s plus "
                f"{notional} exceeds {risk_limits.window_notional_pct}% of equity ({cap})"
            )
        return None

    def duplicate_denial(self) -> str | None:
        if self.duplicate_of_recent:
            return (
                f"an order with the same content left within the last "
                f"{limits.DUPLICATE_WINDOW_SECONDS}s"
            )
        return None

    def daily_denial(self, risk_limits: RiskLimits) -> str | None:
        if self.orders_today >= risk_limits.max_daily_orders:
            return f"{self.orders_today} orders sent today (max {risk_limits.max_daily_orders})"
        return None

    def repeated_execution_denial(self, risk_limits: RiskLimits) -> str | None:
        cap = risk_limits.max_fills_per_strategy_symbol
        if self.repeated_execution_latched or self.fills_in_execution_window > cap:
            return (
                f"more than {cap} fills for this strategy and symbol within "
                f"{limits.REPEATED_EXECUTION_SECONDS}s: HALTED until a person releases it"
            )
        return None


class PreTradeThrottles:
    """All flow throttles of one account, configured from the effective :class:`RiskLimits`."""

    def __init__(self, risk_limits: RiskLimits) -> None:
        self.submits = SubmitThrottle(
            risk_limits.max_orders_per_second, risk_limits.max_orders_per_minute
        )
        self.notional = RollingNotional(risk_limits.window_notional_pct)
        self.duplicates = DuplicateDetector()
        self.executions = RepeatedExecutionMonitor(risk_limits.max_fills_per_strategy_symbol)
        self.daily = DailyOrderCounter(risk_limits.max_daily_orders)

    def snapshot(self, order: OrderContent, now: datetime) -> ThrottleView:
        """Pure query: what the throttles would say about ``order`` at ``now``."""
        in_second, in_minute = self.submits.counts(now)
        return ThrottleView(
            submits_last_second=in_second,
            submits_last_minute=in_minute,
            window_notional=self.notional.total(now),
            orders_today=self.daily.count(now),
            duplicate_of_recent=not self.duplicates.would_allow(now, content_hash(order)),
            fills_in_execution_window=self.executions.fills_in_window(
                now, order.strategy_id, order.symbol
            ),
            repeated_execution_latched=self.executions.is_latched(order.strategy_id, order.symbol),
        )

    def record_submit(self, order: OrderContent, notional: Decimal, at: datetime) -> None:
        """Consume budget: call only when ``order`` actually leaves for a broker."""
        self.submits.record(at)
        self.notional.record(at, notional)
        self.duplicates.record(at, content_hash(order))
        self.daily.record(at)

    def record_fill(self, fill: Fill) -> bool:
        """Count an execution; returns True when it latched its strategy and symbol."""
        return self.executions.record_fill(fill.timestamp, fill.strategy_id, fill.symbol)


def _key(strategy_id: str | None, symbol: str) -> tuple[str, str]:
    return (strategy_id or "", symbol)


def _utc_day(at: datetime) -> date:
    _require_aware(at)
    return at.astimezone(UTC).date()


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
