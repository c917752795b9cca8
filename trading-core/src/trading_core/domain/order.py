"""Orders and their explicit state machine.

PENDING -> SENT -> PARTIAL -> FILLED, with CANCELLED, REJECTED and EXPIRED as the other terminal
states. UNKNOWN is a submit whose answer was lost: the order counts as live until a lookup by client
order id resolves it (never resubmitted blindly).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import model_validator

from trading_core.domain.base import (
    ZERO,
    Frozen,
    NonNegativeDecimal,
    PositiveDecimal,
    UtcDatetime,
)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    GTC = "gtc"
    DAY = "day"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    PARTIAL = "partial"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """Open orders count against limits (an UNKNOWN order is treated as live)."""
        return not self.is_terminal


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset(
        {OrderStatus.SENT, OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.UNKNOWN}
    ),
    OrderStatus.SENT: frozenset(
        {
            OrderStatus.PARTIAL,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
            OrderStatus.UNKNOWN,
        }
    ),
    OrderStatus.PARTIAL: frozenset(
        {
            OrderStatus.PARTIAL,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.EXPIRED,
            OrderStatus.UNKNOWN,
        }
    ),
    OrderStatus.UNKNOWN: frozenset(
        {
            OrderStatus.SENT,
            OrderStatus.PARTIAL,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


class IllegalTransitionError(ValueError):
    """An order was asked to move to a state its state machine does not allow."""

    def __init__(self, order_id: str, current: OrderStatus, target: OrderStatus) -> None:
        super().__init__(f"order {order_id}: illegal transition {current} -> {target}")
        self.current = current
        self.target = target


PAPER_ACCOUNT = "paper"
"""The paper account the MCP tools, the CLI and a live-fed run trade and show."""


def replay_account(run_id: str) -> str:
    """The book of one replay (synthetic or file data): kept apart from the paper account."""
    return f"replay:{run_id}"


class Order(Frozen):
    """An order as the system knows it; every change goes through :meth:`transition`."""

    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: PositiveDecimal
    order_type: OrderType = OrderType.LIMIT
    limit_price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    status: OrderStatus = OrderStatus.PENDING
    filled_quantity: NonNegativeDecimal = ZERO
    average_fill_price: PositiveDecimal | None = None
    strategy_id: str | None = None
    reason: str | None = None
    broker: str = "paper"
    broker_order_id: str | None = None
    status_reason: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    account: str = PAPER_ACCOUNT
    """Which book the order trades: the paper account, or a replay's own (``replay:<run_id>``)."""

    @model_validator(mode="after")
    def _prices_match_type(self) -> Order:
        needs_limit = self.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = self.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_limit and self.limit_price is None:
            raise ValueError(f"{self.order_type} order needs a limit_price")
        if needs_stop and self.stop_price is None:
            raise ValueError(f"{self.order_type} order needs a stop_price")
        if self.filled_quantity > self.quantity:
            raise ValueError("filled quantity exceeds order quantity")
        return self

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def signed_remaining(self) -> Decimal:
        return self.remaining_quantity * self.side.sign

    def transition(
        self,
        target: OrderStatus,
        *,
        at: UtcDatetime,
        reason: str | None = None,
        broker_order_id: str | None = None,
    ) -> Order:
        """Return the order in ``target`` state, or raise :class:`IllegalTransitionError`."""
        if target not in ALLOWED_TRANSITIONS[self.status]:
            raise IllegalTransitionError(self.order_id, self.status, target)
        if at.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        update: dict[str, object] = {"status": target, "updated_at": at}
        if reason is not None:
            update["status_reason"] = reason
        if broker_order_id is not None:
            update["broker_order_id"] = broker_order_id
        return self.model_copy(update=update)

    def with_fill(self, quantity: Decimal, price: Decimal, *, at: UtcDatetime) -> Order:
        """Apply an execution: updates filled quantity, average price and status."""
        if quantity <= 0 or price <= 0:
            raise ValueError("fill quantity and price must be positive")
        filled = self.filled_quantity + quantity
        if filled > self.quantity:
            raise ValueError(f"order {self.order_id}: fill would exceed order quantity")
        previous_cost = (self.average_fill_price or ZERO) * self.filled_quantity
        average = (previous_cost + price * quantity) / filled
        target = OrderStatus.FILLED if filled == self.quantity else OrderStatus.PARTIAL
        moved = self.transition(target, at=at)
        return moved.model_copy(update={"filled_quantity": filled, "average_fill_price": average})
