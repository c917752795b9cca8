"""Pre-trade checks: every order is checked here before anything can leave for a broker.

``check_order`` is a pure function over an :class:`OrderRequest` and an :class:`ExposureView`; it
collects every violation (not only the first) with a stable code, and fails closed: no reference
quote, a stale one, unknown equity, or a control that raises are violations, never skipped checks.
Flow throttles (rate, rolling notional, duplicates, daily count) let risk-reducing orders through;
the repeated-execution latch does not (it means HALTED).

This module holds the request and result models, the check context and the orchestration; the
controls themselves, in their reporting order, are :data:`trading_core.risk.controls.CONTROLS`.
"""

from __future__ import annotations

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
from trading_core.risk.controls import CONTROLS as CONTROLS  # re-exported; tests swap it here
from trading_core.risk.controls import Control
from trading_core.risk.controls import Violation as Violation  # re-exported for callers
from trading_core.risk.firm import FirmExposure
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
    firm: FirmExposure | None = None
    """Every account of the firm together, when the run is configured with others (else None:
    this account is the whole firm)."""


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
        found.append(Violation(code="NO_REFERENCE_PRICE", message="no quote to check against"))
        return None
    age, max_age = view.quote.age_seconds(view.now), effective.max_reference_age_seconds
    if age > max_age or age < -1:
        message = f"reference quote is {age:.0f}s old (max {max_age}s)"
        found.append(Violation(code="STALE_REFERENCE", message=message))
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
