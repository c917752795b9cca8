"""Pre-trade checks: every order is checked here before anything can leave for a broker.

``check_order`` is a pure function over an :class:`OrderRequest` and an :class:`ExposureView`; it
collects every violation (not only the first) with a stable code, and fails closed: no reference
quote, a stale one, or unknown equity are violations, never skipped checks.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, model_validator

from trading_core.domain.base import (
    ZERO,
    Frozen,
    Money,
    NonNegativeDecimal,
    PositiveDecimal,
    UtcDatetime,
)
from trading_core.domain.instrument import Instrument
from trading_core.domain.market import Quote
from trading_core.domain.order import OrderType, Side, TimeInForce
from trading_core.risk import limits


class OrderRequest(Frozen):
    """What a caller asks for; becomes an Order only after it passes the checks."""

    symbol: str
    side: Side
    quantity: PositiveDecimal
    order_type: OrderType = OrderType.LIMIT
    limit_price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    client_order_id: str = Field(min_length=1, max_length=64)
    strategy_id: str | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _limit_needs_price(self) -> OrderRequest:
        if self.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and self.limit_price is None:
            raise ValueError(f"{self.order_type} order needs a limit_price")
        return self


class Violation(Frozen):
    code: str
    message: str


class ExposureView(Frozen):
    """What the checks see of the account at the moment of the check."""

    now: UtcDatetime
    equity: Money
    cash: Money
    position_quantity: Money = ZERO
    open_buy_quantity: NonNegativeDecimal = ZERO
    open_sell_quantity: NonNegativeDecimal = ZERO
    open_buy_notional: NonNegativeDecimal = ZERO
    quote: Quote | None = None


class RiskLimits(Frozen):
    """Effective limits; build with :meth:`tightened` so nothing exceeds a hard cap."""

    max_order_notional_pct: PositiveDecimal = limits.MAX_ORDER_NOTIONAL_PCT
    max_position_pct: PositiveDecimal = limits.MAX_POSITION_PCT
    max_reference_age_seconds: int = limits.MAX_REFERENCE_AGE_SECONDS

    @model_validator(mode="after")
    def _within_hard_caps(self) -> RiskLimits:
        if self.max_order_notional_pct > limits.MAX_ORDER_NOTIONAL_PCT:
            raise ValueError("max_order_notional_pct beyond its hard cap")
        if self.max_position_pct > limits.MAX_POSITION_PCT:
            raise ValueError("max_position_pct beyond its hard cap")
        if not 0 < self.max_reference_age_seconds <= limits.MAX_REFERENCE_AGE_SECONDS:
            raise ValueError("max_reference_age_seconds beyond its hard cap")
        return self


class RiskDecision(Frozen):
    """The verdict on exactly one request (``client_order_id``) at one moment."""

    client_order_id: str
    approved: bool
    violations: tuple[Violation, ...] = ()
    checked_at: UtcDatetime
    reference_price: PositiveDecimal | None = None
    notional: NonNegativeDecimal = ZERO

    @property
    def codes(self) -> list[str]:
        return [v.code for v in self.violations]


def check_order(
    request: OrderRequest,
    instrument: Instrument,
    view: ExposureView,
    risk_limits: RiskLimits | None = None,
) -> RiskDecision:
    """Run every pre-trade control on ``request``; approved only when no control objects."""
    effective = risk_limits or RiskLimits()
    found: list[Violation] = []
    found += _instrument_rules(request, instrument)
    reference = _reference_price(view, effective, found)
    price = request.limit_price or reference
    notional = request.quantity * price if price is not None else ZERO
    if reference is not None:
        found += _collar(request, instrument, reference)
    if price is not None:
        found += _exposure_rules(request, view, effective, notional, price)
    return RiskDecision(
        client_order_id=request.client_order_id,
        approved=not found,
        violations=tuple(found),
        checked_at=view.now,
        reference_price=reference,
        notional=notional,
    )


def _instrument_rules(request: OrderRequest, instrument: Instrument) -> list[Violation]:
    found: list[Violation] = []
    if not instrument.tradable:
        found.append(Violation(code="INSTRUMENT_NOT_TRADABLE", message=f"{instrument.symbol}"))
    if request.order_type not in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        found.append(
            Violation(
                code="ORDER_TYPE_NOT_ALLOWED",
                message=f"{request.order_type} orders are not allowed; use a limit order",
            )
        )
    if not instrument.is_quantity_on_lot(request.quantity):
        found.append(
            Violation(
                code="QUANTITY_PRECISION",
                message=f"quantity {request.quantity} is off lot {instrument.lot_size}",
            )
        )
    if request.quantity < instrument.min_quantity or request.quantity > instrument.max_quantity:
        found.append(
            Violation(
                code="INVALID_QUANTITY",
                message=f"quantity {request.quantity} outside "
                f"[{instrument.min_quantity}, {instrument.max_quantity}]",
            )
        )
    for label, price in (("limit", request.limit_price), ("stop", request.stop_price)):
        if price is not None and not instrument.is_price_on_tick(price):
            found.append(
                Violation(
                    code="PRICE_PRECISION",
                    message=f"{label} price {price} is off tick {instrument.tick_size}",
                )
            )
    return found


def _reference_price(
    view: ExposureView, effective: RiskLimits, found: list[Violation]
) -> Decimal | None:
    quote = view.quote
    if quote is None:
        found.append(Violation(code="NO_REFERENCE_PRICE", message="no quote to check against"))
        return None
    age = quote.age_seconds(view.now)
    if age > effective.max_reference_age_seconds or age < -1:
        found.append(
            Violation(
                code="STALE_REFERENCE",
                message=f"reference quote is {age:.0f}s old "
                f"(max {effective.max_reference_age_seconds}s)",
            )
        )
        return None
    return quote.mid


def _collar(request: OrderRequest, instrument: Instrument, reference: Decimal) -> list[Violation]:
    if request.limit_price is None:
        return []
    collar = limits.PRICE_COLLAR_PCT[instrument.asset_class]
    deviation = abs(request.limit_price - reference) / reference * 100
    if deviation > collar:
        return [
            Violation(
                code="PRICE_OUTSIDE_COLLAR",
                message=f"limit {request.limit_price} is {deviation:.2f}% from mid {reference} "
                f"(max {collar}%)",
            )
        ]
    return []


def _exposure_rules(
    request: OrderRequest,
    view: ExposureView,
    effective: RiskLimits,
    notional: Decimal,
    price: Decimal,
) -> list[Violation]:
    if view.equity <= 0:
        return [Violation(code="NO_EQUITY", message="equity is zero or negative")]
    found: list[Violation] = []
    max_notional = view.equity * effective.max_order_notional_pct / 100
    if notional > max_notional:
        found.append(
            Violation(
                code="NOTIONAL_EXCEEDS_MAX_PER_ORDER",
                message=f"notional {notional:.8f} above {effective.max_order_notional_pct}% "
                f"of equity ({max_notional:.8f})",
            )
        )
    signed = request.quantity * request.side.sign
    worst_case = max(
        abs(view.position_quantity + view.open_buy_quantity + max(signed, ZERO)),
        abs(view.position_quantity - view.open_sell_quantity + min(signed, ZERO)),
    )
    reduces = abs(view.position_quantity + signed) < abs(view.position_quantity)
    max_position = view.equity * effective.max_position_pct / 100
    if worst_case * price > max_position and not reduces:
        found.append(
            Violation(
                code="POSITION_LIMIT",
                message=f"projected position {worst_case} x {price} above "
                f"{effective.max_position_pct}% of equity",
            )
        )
    if request.side is Side.BUY and view.cash - view.open_buy_notional - notional < 0:
        found.append(
            Violation(
                code="INSUFFICIENT_FUNDS",
                message="cash after open orders and this order would be negative",
            )
        )
    if request.side is Side.SELL and view.position_quantity - view.open_sell_quantity < (
        request.quantity
    ):
        found.append(
            Violation(
                code="SHORT_SELLING_NOT_ALLOWED",
                message="cash account: cannot sell more than the position held",
            )
        )
    return found
