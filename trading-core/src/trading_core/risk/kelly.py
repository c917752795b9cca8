"""Fractional Kelly position sizing, clipped by every hard cap, in Decimal.

Kelly's growth-optimal fraction of equity for a bet won with probability p that pays b times
what it loses is f* = p - (1 - p) / b; f* <= 0 means there is no edge and no trade. We bet a
fraction of it (a quarter by default: about 44 % of full Kelly's growth at a quarter of the
volatility), then apply the caps IN THIS ORDER, each one only able to shrink the size:

1. order notional: ``max_order_notional_pct`` of equity per order;
2. position: ``max_position_pct`` of equity for the whole position, minus what is already held
   or on order in the same direction (``existing_quantity``);
3. risk per trade (only with ``stop_distance``): the loss if the stop is hit,
   quantity * stop_distance, stays within ``risk_per_trade_pct`` of equity;
4. the instrument's ``max_quantity``.

The size is then rounded DOWN to ``lot_size`` and dropped to zero under ``min_quantity``.
``binding_constraint`` names the last step that reduced the size (so ties go to the earlier
step). Percent caps above the hard caps in ``risk.limits`` are clipped to them: configuration
may only tighten. Only feed a model's probability here when it is well calibrated out of sample.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Final

from trading_core.domain.base import ZERO, Frozen
from trading_core.risk.analytics import InvalidRiskInputError, finite_decimal
from trading_core.risk.limits import MAX_ORDER_NOTIONAL_PCT, MAX_POSITION_PCT

DEFAULT_KELLY_MULTIPLIER: Final = Decimal("0.25")
"""Quarter Kelly."""
DEFAULT_RISK_PER_TRADE_PCT: Final = Decimal("1")
"""Largest loss at the stop, in percent of equity, when a stop distance is given."""

_ONE = Decimal(1)
_HUNDRED = Decimal(100)


class SizingConstraint(StrEnum):
    """What decided the final size."""

    NO_EDGE = "no_edge"
    KELLY = "kelly"
    ORDER_NOTIONAL = "order_notional"
    POSITION = "position"
    RISK_PER_TRADE = "risk_per_trade"
    MAX_QUANTITY = "max_quantity"
    LOT_SIZE = "lot_size"
    MIN_QUANTITY = "min_quantity"


class SizeResult(Frozen):
    """Every stage of the sizing, quantities in instrument units (unrounded until ``quantity``)."""

    full_kelly: Decimal
    kelly_multiplier: Decimal
    fractional_kelly: Decimal
    kelly_quantity: Decimal
    after_order_notional_cap: Decimal
    after_position_cap: Decimal
    after_risk_per_trade_cap: Decimal
    after_max_quantity: Decimal
    quantity: Decimal
    notional: Decimal
    binding_constraint: SizingConstraint


def kelly_fraction(win_probability: Decimal | float, win_loss_ratio: Decimal | float) -> Decimal:
    """Full Kelly f* = p - (1 - p) / b, or zero when there is no edge (f* <= 0).

    Raises :class:`InvalidRiskInputError` for p outside [0, 1], b <= 0, NaN or infinity.
    """
    p = finite_decimal(win_probability, "win_probability")
    b = finite_decimal(win_loss_ratio, "win_loss_ratio")
    if not ZERO <= p <= _ONE:
        raise InvalidRiskInputError(f"win_probability must be in [0, 1], got {p}")
    if b <= 0:
        raise InvalidRiskInputError(f"win_loss_ratio must be greater than zero, got {b}")
    return max(ZERO, p - (_ONE - p) / b)


def position_size(
    *,
    equity: Decimal,
    price: Decimal,
    win_probability: Decimal | float,
    win_loss_ratio: Decimal | float,
    lot_size: Decimal,
    stop_distance: Decimal | None = None,
    fraction: Decimal = DEFAULT_KELLY_MULTIPLIER,
    max_order_notional_pct: Decimal = MAX_ORDER_NOTIONAL_PCT,
    max_position_pct: Decimal = MAX_POSITION_PCT,
    risk_per_trade_pct: Decimal = DEFAULT_RISK_PER_TRADE_PCT,
    existing_quantity: Decimal = ZERO,
    min_quantity: Decimal = ZERO,
    max_quantity: Decimal | None = None,
) -> SizeResult:
    """Size one order by fractional Kelly, then every cap (see module doc for the order).

    ``equity`` and ``price`` are in the same currency; ``stop_distance`` is the price distance
    from entry to the protective stop; ``existing_quantity`` (>= 0) is the quantity already held
    plus open orders in the trade's direction. Raises :class:`InvalidRiskInputError` on any
    non-finite, non-positive (equity, price, lot, caps, fraction, stop) or out-of-range input.
    """
    full = kelly_fraction(win_probability, win_loss_ratio)
    equity = _positive(equity, "equity")
    price = _positive(price, "price")
    lot = _positive(lot_size, "lot_size")
    multiplier = _positive(fraction, "fraction")
    if multiplier > _ONE:
        raise InvalidRiskInputError(f"fraction must be at most 1 (full Kelly), got {multiplier}")
    order_pct = min(
        _positive(max_order_notional_pct, "max_order_notional_pct"), MAX_ORDER_NOTIONAL_PCT
    )
    position_pct = min(_positive(max_position_pct, "max_position_pct"), MAX_POSITION_PCT)
    risk_pct = _positive(risk_per_trade_pct, "risk_per_trade_pct")
    held = _non_negative(existing_quantity, "existing_quantity")
    minimum = _non_negative(min_quantity, "min_quantity")
    stop = None if stop_distance is None else _positive(stop_distance, "stop_distance")
    maximum = None if max_quantity is None else _positive(max_quantity, "max_quantity")

    fractional = full * multiplier
    kelly_quantity = equity * fractional / price
    binding = SizingConstraint.KELLY if full > 0 else SizingConstraint.NO_EDGE
    size = kelly_quantity

    def cap(current: Decimal, limit: Decimal, constraint: SizingConstraint) -> Decimal:
        nonlocal binding
        if limit < current:
            binding = constraint
            return limit
        return current

    size = after_order = cap(
        size, equity * order_pct / _HUNDRED / price, SizingConstraint.ORDER_NOTIONAL
    )
    position_room = max(ZERO, equity * position_pct / _HUNDRED / price - held)
    size = after_position = cap(size, position_room, SizingConstraint.POSITION)
    if stop is not None:
        size = cap(size, equity * risk_pct / _HUNDRED / stop, SizingConstraint.RISK_PER_TRADE)
    after_risk = size
    if maximum is not None:
        size = cap(size, maximum, SizingConstraint.MAX_QUANTITY)
    after_maximum = size

    quantity = (size // lot) * lot
    if quantity == 0 and size > 0:
        binding = SizingConstraint.LOT_SIZE
    elif 0 < quantity < minimum:
        quantity = ZERO
        binding = SizingConstraint.MIN_QUANTITY
    return SizeResult(
        full_kelly=full,
        kelly_multiplier=multiplier,
        fractional_kelly=fractional,
        kelly_quantity=kelly_quantity,
        after_order_notional_cap=after_order,
        after_position_cap=after_position,
        after_risk_per_trade_cap=after_risk,
        after_max_quantity=after_maximum,
        quantity=quantity,
        notional=quantity * price,
        binding_constraint=binding,
    )


def _positive(value: Decimal, name: str) -> Decimal:
    number = finite_decimal(value, name)
    if number <= 0:
        raise InvalidRiskInputError(f"{name} must be greater than zero, got {number}")
    return number


def _non_negative(value: Decimal, name: str) -> Decimal:
    number = finite_decimal(value, name)
    if number < 0:
        raise InvalidRiskInputError(f"{name} must not be negative, got {number}")
    return number
