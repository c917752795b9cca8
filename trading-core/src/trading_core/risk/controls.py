"""The individual pre-trade controls: each inspects a ``CheckContext`` and returns its violations.

``pretrade.check_order`` builds the context once and runs every control of :data:`CONTROLS` in
order (each guarded: a control that raises becomes a ``RISK_CHECK_ERROR``). A control returns an
empty list when it has no objection; it never records anything, so a dry run consumes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from trading_core.domain.base import ZERO, Frozen
from trading_core.domain.order import OrderType, Side

if TYPE_CHECKING:
    # Only for annotations: pretrade imports CONTROLS from here, so a runtime import would cycle.
    from trading_core.risk.pretrade import CheckContext


# One objection of one control: a stable code and a message for people. No docstring on purpose:
# pydantic would put it into the published schema of every RiskDecision (pretrade re-exports it).
class Violation(Frozen):
    code: str
    message: str


Control = Callable[["CheckContext"], list[Violation]]
"""A control: the check context in, its violations out (empty when it has no objection)."""


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


def _firm_exposure(c: CheckContext) -> list[Violation]:
    """Gross and net exposure over every account of the firm (``view.firm``), in its currency.

    An order that only reduces its position passes: it lowers the firm's exposure whatever the
    other books hold, and a kill switch's flatten must work while a rate is stale. Anything else
    is refused while the firm view has a problem (an account unpublished or stale, a mark or a
    rate missing or stale): the caps cannot be vouched for, so nothing is added.
    """
    firm = c.view.firm
    if firm is None or c.price is None or c.reduces:
        return []
    if firm.problems or firm.order_rate is None:
        return [
            Violation(code=v.code, message=f"firm risk view: {v.message}; no new exposure")
            for v in firm.problems
        ] or _violation("FX_RATE_MISSING", "firm risk view: the order's currency has no rate")
    if firm.equity <= 0:
        return _violation("FIRM_NO_EQUITY", "the firm's equity across accounts is not positive")
    notional = c.notional * firm.order_rate
    gross = firm.gross_exposure + firm.open_buy_notional + notional
    net = firm.net_exposure + firm.open_buy_notional + notional * c.request.side.sign
    found: list[Violation] = []
    for code, value, pct in (
        ("FIRM_GROSS_EXPOSURE_LIMIT", gross, c.limits.max_gross_exposure_pct),
        ("FIRM_NET_EXPOSURE_LIMIT", abs(net), c.limits.max_net_exposure_pct),
    ):
        cap = firm.equity * pct / 100
        if value > cap:
            found += _violation(
                code,
                f"projected exposure across {', '.join(firm.accounts)} {value:.2f} "
                f"{firm.base_currency} above {pct}% of the firm's equity ({cap:.2f})",
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
    _firm_exposure,
    _submit_rate,
    _window_notional,
    _duplicate,
    _daily_count,
    _repeated_execution,
)
"""Every pre-trade control, in the order their violations are reported."""
