"""Pre-trade checks: every order is checked here before anything can leave for a broker.

``check_order`` is a pure function over an :class:`OrderRequest` and an :class:`ExposureView`; it
collects every violation (not only the first) with a stable code, and fails closed: no reference
quote, a stale one, unknown equity, or a control that raises are violations, never skipped checks.
Flow throttles (rate, rolling notional, duplicates, daily count) let risk-reducing orders through;
the repeated-execution latch does not (it means HALTED).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from pydantic import Field, NonNegativeInt, model_validator

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
from trading_core.risk.risk_config import RiskLimits as RiskLimits  # re-exported for callers
from trading_core.risk.throttles import ThrottleView


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
    def _prices_match_type(self) -> OrderRequest:
        if self.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and self.limit_price is None:
            raise ValueError(f"{self.order_type} order needs a limit_price")
        if self.order_type in (OrderType.STOP, OrderType.STOP_LIMIT) and self.stop_price is None:
            raise ValueError(f"{self.order_type} order needs a stop_price")
        return self


class Violation(Frozen):
    code: str
    message: str


class ExposureView(Frozen):
    """What the checks see of the account at the moment of the check.

    ``open_buy_notional``, ``gross_exposure``, ``net_exposure`` and ``open_orders_total`` are
    account-wide; the quantities and ``open_orders_for_symbol`` are for the order's symbol.
    """

    now: UtcDatetime
    equity: Money
    cash: Money
    position_quantity: Money = ZERO
    open_buy_quantity: NonNegativeDecimal = ZERO
    open_sell_quantity: NonNegativeDecimal = ZERO
    open_buy_notional: NonNegativeDecimal = ZERO
    quote: Quote | None = None
    open_orders_total: NonNegativeInt = 0
    open_orders_for_symbol: NonNegativeInt = 0
    gross_exposure: NonNegativeDecimal = ZERO
    """Sum of absolute position values (marked), in account currency."""
    net_exposure: Money = ZERO
    """Signed sum of position values (marked), in account currency."""
    throttles: ThrottleView = ThrottleView()
    """What the flow throttles know (``PreTradeThrottles.snapshot``); defaults to no history."""


class RiskDecision(Frozen):
    """The verdict on exactly one request (``client_order_id``) at one moment."""

    client_order_id: str
    approved: bool
    violations: tuple[Violation, ...] = ()
    checked_at: UtcDatetime
    reference_price: PositiveDecimal | None = None
    notional: NonNegativeDecimal = ZERO
    reduces_position: bool = False
    """The order only shrinks the position (with the open orders on its side): throttles let it
    through."""
    halt: bool = False
    """Repeated executions latched: the caller must move the account to HALTED."""
    marketable_limit_price: PositiveDecimal | None = None
    """Set when a market order was converted: the limit price it must carry."""
    order_to_send: OrderRequest | None = Field(default=None, exclude=True)
    """The request exactly as checked (a market order converted to a marketable limit): send
    this, never the original. Not serialised: it repeats the request and its ids."""

    @property
    def codes(self) -> list[str]:
        return [v.code for v in self.violations]


Control = Callable[["CheckContext"], list[Violation]]


@dataclass(frozen=True, slots=True)
class CheckContext:
    """Everything one control needs, computed once per check.

    A plain frozen dataclass, not a model: its parts were validated where they were built, and
    re-validating them on every check (the hard-cap validator included) was most of its cost.
    """

    request: OrderRequest
    """As it would be sent (a market order converted to a marketable limit)."""
    original: OrderRequest
    instrument: Instrument
    view: ExposureView
    limits: RiskLimits
    reference: Decimal | None
    price: Decimal | None
    notional: Decimal
    reduces: bool


def check_order(
    request: OrderRequest,
    instrument: Instrument,
    view: ExposureView,
    risk_limits: RiskLimits | None = None,
) -> RiskDecision:
    """Run every pre-trade control on ``request``; approved only when no control objects.

    Pure: it never records anything, so a dry run consumes no throttle budget.
    """
    effective = risk_limits or RiskLimits()
    found: list[Violation] = []
    try:
        context = _context(request, instrument, view, effective, found)
    except Exception as exc:  # noqa: BLE001 - fail closed: a check that cannot run rejects
        found.append(_error_violation("preparing the check", exc))
        return RiskDecision(
            client_order_id=request.client_order_id,
            approved=False,
            violations=tuple(found),
            checked_at=view.now,
        )
    for control in CONTROLS:
        found += run_guarded(control, context)
    return RiskDecision(
        client_order_id=request.client_order_id,
        approved=not found,
        violations=tuple(found),
        checked_at=view.now,
        reference_price=context.reference,
        notional=context.notional,
        reduces_position=context.reduces,
        halt=any(v.code == "REPEATED_EXECUTION" for v in found),
        marketable_limit_price=(
            context.request.limit_price if context.request is not context.original else None
        ),
        order_to_send=context.request,
    )


def run_guarded(control: Control, context: CheckContext) -> list[Violation]:
    """Run one control; if it raises, the answer is a ``RISK_CHECK_ERROR`` violation."""
    try:
        return control(context)
    except Exception as exc:  # noqa: BLE001 - fail closed: an exception must never approve
        return [_error_violation(getattr(control, "__name__", "a control"), exc)]


def to_marketable_limit(
    request: OrderRequest,
    quote: Quote,
    instrument: Instrument,
    risk_limits: RiskLimits | None = None,
) -> OrderRequest:
    """A market order as a limit at the collar edge of ``quote``'s mid.

    The price is rounded toward the passive side (a buy down, a sell up), so it never leaves the
    collar. The order becomes IOC (FOK stays FOK) so nothing rests at the collar edge. The caller
    vouches that ``quote`` is fresh; ``check_order`` converts only with a fresh reference.
    """
    if request.order_type is not OrderType.MARKET:
        raise ValueError(f"only market orders are converted, not {request.order_type}")
    if quote.symbol != request.symbol:
        raise ValueError(f"quote for {quote.symbol} cannot price {request.symbol}")
    collar = (risk_limits or RiskLimits()).collar_pct(instrument.asset_class) / 100
    tick = instrument.tick_size
    if request.side is Side.BUY:
        price = (quote.mid * (1 + collar) / tick).to_integral_value(ROUND_FLOOR) * tick
    else:
        price = (quote.mid * (1 - collar) / tick).to_integral_value(ROUND_CEILING) * tick
    keep_fok = request.time_in_force is TimeInForce.FOK
    return OrderRequest.model_validate(
        {
            **request.model_dump(),
            "order_type": OrderType.LIMIT,
            "limit_price": price,
            "time_in_force": TimeInForce.FOK if keep_fok else TimeInForce.IOC,
        }
    )


def _context(
    request: OrderRequest,
    instrument: Instrument,
    view: ExposureView,
    effective: RiskLimits,
    found: list[Violation],
) -> CheckContext:
    reference = _reference_price(view, effective, found)
    to_send = request
    if (
        request.order_type is OrderType.MARKET
        and reference is not None
        and view.quote is not None
        and OrderType.MARKET in effective.allowed_order_types
    ):
        to_send = to_marketable_limit(request, view.quote, instrument, effective)
    price = to_send.limit_price if to_send.order_type is not OrderType.MARKET else reference
    return CheckContext(
        request=to_send,
        original=request,
        instrument=instrument,
        view=view,
        limits=effective,
        reference=reference,
        price=price,
        notional=request.quantity * price if price is not None else ZERO,
        reduces=_reduces_position(request, view),
    )


def _reference_price(
    view: ExposureView, effective: RiskLimits, found: list[Violation]
) -> Decimal | None:
    if view.quote is None:
        found += _violation("NO_REFERENCE_PRICE", "no quote to check against")
        return None
    age, max_age = view.quote.age_seconds(view.now), effective.max_reference_age_seconds
    if age > max_age or age < -1:
        found += _violation(
            "STALE_REFERENCE", f"reference quote is {age:.0f}s old (max {max_age}s)"
        )
        return None
    return view.quote.mid


def _reduces_position(request: OrderRequest, view: ExposureView) -> bool:
    """True when the order, with the open orders on its side, only shrinks the position."""
    position = view.position_quantity
    if request.side is Side.SELL:
        return position > 0 and view.open_sell_quantity + request.quantity <= position
    return position < 0 and view.open_buy_quantity + request.quantity <= -position


def _error_violation(where: str, exc: Exception) -> Violation:
    return Violation(
        code="RISK_CHECK_ERROR",
        message=f"risk check failed in {where} ({type(exc).__name__}: {exc}); order refused",
    )


# --- controls: each takes the context and returns its violations --------------------------


def _violation(code: str, message: str | None) -> list[Violation]:
    return [] if message is None else [Violation(code=code, message=message)]


def _instrument_rules(c: CheckContext) -> list[Violation]:
    request, instrument = c.request, c.instrument
    found: list[Violation] = []
    if not instrument.tradable:
        found += _violation("INSTRUMENT_NOT_TRADABLE", f"{instrument.symbol} is not tradable")
    if not instrument.is_quantity_on_lot(request.quantity):
        found += _violation(
            "QUANTITY_PRECISION", f"quantity {request.quantity} is off lot {instrument.lot_size}"
        )
    if not instrument.min_quantity <= request.quantity <= instrument.max_quantity:
        found += _violation(
            "INVALID_QUANTITY",
            f"quantity {request.quantity} outside "
            f"[{instrument.min_quantity}, {instrument.max_quantity}]",
        )
    for label, price in (("limit", request.limit_price), ("stop", request.stop_price)):
        # Off-tick prices are refused, never rounded (rounding could make them more aggressive).
        if price is not None and not instrument.is_price_on_tick(price):
            found += _violation(
                "PRICE_PRECISION", f"{label} price {price} is off tick {instrument.tick_size}"
            )
    return found


def _order_type_and_tif(c: CheckContext) -> list[Violation]:
    found: list[Violation] = []
    allowed_types = c.limits.allowed_order_types
    if c.original.order_type not in allowed_types:
        found += _violation(
            "ORDER_TYPE_NOT_ALLOWED",
            f"{c.original.order_type} orders are not allowed (allowed: "
            f"{', '.join(sorted(allowed_types))})",
        )
    for tif in dict.fromkeys((c.original.time_in_force, c.request.time_in_force)):
        if tif not in c.limits.allowed_time_in_force:
            found += _violation(
                "TIF_NOT_ALLOWED",
                f"time in force {tif} is not allowed (allowed: "
                f"{', '.join(sorted(c.limits.allowed_time_in_force))})",
            )
    return found


def _collar(c: CheckContext) -> list[Violation]:
    limit = c.request.limit_price
    # A stop-limit executes only once the market reaches its stop: that is its reference.
    stop_limit = c.request.order_type is OrderType.STOP_LIMIT
    reference = c.request.stop_price if stop_limit else c.reference
    if limit is None or reference is None:
        return []
    collar = c.limits.collar_pct(c.instrument.asset_class)
    deviation = abs(limit - reference) / reference * 100
    if deviation <= collar:
        return []
    return _violation(
        "PRICE_OUTSIDE_COLLAR",
        f"limit {limit} is {deviation:.2f}% from reference {reference} (max {collar}%)",
    )


def _equity_known(c: CheckContext) -> list[Violation]:
    return _violation("NO_EQUITY", "equity is zero or negative" if c.view.equity <= 0 else None)


def _order_notional(c: CheckContext) -> list[Violation]:
    if c.price is None or c.view.equity <= 0:
        return []
    cap = c.view.equity * c.limits.max_order_notional_pct / 100
    if c.notional <= cap:
        return []
    return _violation(
        "NOTIONAL_EXCEEDS_MAX_PER_ORDER",
        f"notional {c.notional:.8f} above {c.limits.max_order_notional_pct}% of equity ({cap:.8f})",
    )


def _position_limit(c: CheckContext) -> list[Violation]:
    view, request = c.view, c.request
    if c.price is None or view.equity <= 0:
        return []
    signed = request.quantity * request.side.sign
    worst_case = max(
        abs(view.position_quantity + view.open_buy_quantity + max(signed, ZERO)),
        abs(view.position_quantity - view.open_sell_quantity + min(signed, ZERO)),
    )
    shrinks = abs(view.position_quantity + signed) < abs(view.position_quantity)
    cap = view.equity * c.limits.max_position_pct / 100
    if worst_case * c.price <= cap or shrinks:
        return []
    return _violation(
        "POSITION_LIMIT",
        f"projected position {worst_case} x {c.price} above "
        f"{c.limits.max_position_pct}% of equity ({cap:.2f})",
    )


def _buying_power(c: CheckContext) -> list[Violation]:
    if c.request.side is not Side.BUY or c.price is None:
        return []
    if c.view.cash - c.view.open_buy_notional - c.notional >= 0:
        return []
    return _violation(
        "INSUFFICIENT_FUNDS", "cash after open orders and this order would be negative"
    )


def _no_short_selling(c: CheckContext) -> list[Violation]:
    view = c.view
    if c.request.side is not Side.SELL:
        return []
    if view.position_quantity - view.open_sell_quantity >= c.request.quantity:
        return []
    return _violation(
        "SHORT_SELLING_NOT_ALLOWED", "cash account: cannot sell more than the position held"
    )


def _open_orders(c: CheckContext) -> list[Violation]:
    return [
        Violation(code="MAX_OPEN_ORDERS", message=f"{count} orders open {scope} (max {cap})")
        for count, cap, scope in (
            (c.view.open_orders_total, c.limits.max_open_orders, "in total"),
            (
                c.view.open_orders_for_symbol,
                c.limits.max_open_orders_per_symbol,
                f"on {c.request.symbol}",
            ),
        )
        if count >= cap
    ]


def _gross_and_net_exposure(c: CheckContext) -> list[Violation]:
    view = c.view
    if c.price is None or view.equity <= 0 or c.reduces:
        return []
    signed = c.notional * c.request.side.sign
    gross = view.gross_exposure + view.open_buy_notional + c.notional
    net = view.net_exposure + view.open_buy_notional + signed
    found: list[Violation] = []
    for code, value, pct in (
        ("GROSS_EXPOSURE_LIMIT", gross, c.limits.max_gross_exposure_pct),
        ("NET_EXPOSURE_LIMIT", abs(net), c.limits.max_net_exposure_pct),
    ):
        cap = view.equity * pct / 100
        if value > cap:
            found += _violation(
                code, f"projected exposure {value:.2f} above {pct}% of equity ({cap:.2f})"
            )
    return found


def _submit_rate(c: CheckContext) -> list[Violation]:
    return [] if c.reduces else _violation("RATE_LIMITED", c.view.throttles.rate_denial(c.limits))


def _window_notional(c: CheckContext) -> list[Violation]:
    if c.reduces or c.price is None or c.view.equity <= 0:
        return []
    denial = c.view.throttles.window_denial(c.limits, c.notional, c.view.equity)
    return _violation("WINDOW_NOTIONAL_EXCEEDED", denial)


def _duplicate(c: CheckContext) -> list[Violation]:
    return [] if c.reduces else _violation("DUPLICATE_ORDER", c.view.throttles.duplicate_denial())


def _daily_count(c: CheckContext) -> list[Violation]:
    denial = c.view.throttles.daily_denial(c.limits)
    return [] if c.reduces else _violation("DAILY_ORDER_LIMIT", denial)


def _repeated_execution(c: CheckContext) -> list[Violation]:
    denial = c.view.throttles.repeated_execution_denial(c.limits)
    return _violation("REPEATED_EXECUTION", denial)


CONTROLS: tuple[Control, ...] = (
    _instrument_rules,
    _order_type_and_tif,
    _collar,
    _equity_known,
    _order_notional,
    _position_limit,
    _buying_power,
    _no_short_selling,
    _open_orders,
    _gross_and_net_exposure,
    _submit_rate,
    _window_notional,
    _duplicate,
    _daily_count,
    _repeated_execution,
)
"""Every pre-trade control, in the order their violations are reported."""
