"""Named stress scenarios on current positions and open orders, in Decimal.

A scenario moves every mark by a relative shock chosen by asset class (``-0.10`` is -10 %).
Conventions:

- Open orders (any status that is still open, UNKNOWN included) are assumed to FILL IN FULL
  (their remaining quantity) BEFORE the shock, at their limit price (stop price for a stop order,
  the mark for a market order). Their P&L is therefore signed_remaining * (shocked mark - fill
  price): the cost of the fill relative to the mark plus the shock on the new exposure.
- A scenario with several variants (``fx_move_3``: FX +3 % and -3 %) reports the variant with
  the worse (lowest) total P&L; ties go to the first listed.
- ``shocks`` passed to :func:`run_stress_test` are per-symbol shocks that take precedence over
  the asset-class shock. ``crypto_crash_2018`` is meant to be run with
  ``shocks=crash_shocks(closes_by_symbol)`` from the January 2018 files; crypto symbols without
  a derived shock get the crypto default of -30 %. Symbols of a class a variant does not shock
  are unchanged.
- Fail closed: a position or order without a mark or an asset class, a non-finite number, a
  shock below -100 % or a non-positive equity is refused with :class:`InvalidRiskInputError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal
from types import MappingProxyType
from typing import Final

import numpy as np

from trading_core.domain.base import ZERO, Frozen
from trading_core.domain.instrument import AssetClass
from trading_core.domain.order import Order, OrderType
from trading_core.risk.analytics import FloatSeries, InvalidRiskInputError, finite_decimal

CRYPTO_DEFAULT_SHOCK: Final = Decimal("-0.30")
"""Crypto shock for symbols the crash data does not cover."""
SHOCK_PRECISION: Final = Decimal("0.000001")
"""Derived shocks are rounded down (more severe) to this step."""

_ONE = Decimal(1)
_HUNDRED = Decimal(100)


class ShockSet(Frozen):
    """One variant of a scenario: a relative price shock per asset class."""

    label: str
    by_asset_class: dict[AssetClass, Decimal]


class StressScenario(Frozen):
    """A named scenario; with several variants the worst one is reported."""

    name: str
    description: str
    variants: tuple[ShockSet, ...]


class StressResult(Frozen):
    """P&L of the book after the shock; ``pnl_pct_of_equity`` is percent (-5 means -5 %)."""

    scenario: str
    variant: str
    equity: Decimal
    shocks: dict[str, Decimal]
    pnl_by_symbol: dict[str, Decimal]
    total_pnl: Decimal
    pnl_pct_of_equity: Decimal
    stressed_equity: Decimal
    open_orders_included: int


def _scenario(name: str, description: str, *variants: ShockSet) -> StressScenario:
    return StressScenario(name=name, description=description, variants=variants)


SCENARIOS: Final[Mapping[str, StressScenario]] = MappingProxyType(
    {
        scenario.name: scenario
        for scenario in (
            _scenario(
                "equities_down_10",
                "Equities fall 10 %.",
                ShockSet(label="down", by_asset_class={AssetClass.EQUITY: Decimal("-0.10")}),
            ),
            _scenario(
                "crypto_down_30",
                "Crypto falls 30 %.",
                ShockSet(label="down", by_asset_class={AssetClass.CRYPTO: CRYPTO_DEFAULT_SHOCK}),
            ),
            _scenario(
                "fx_move_3",
                "FX pairs move 3 % either way; the worse direction is reported.",
                ShockSet(label="up", by_asset_class={AssetClass.FX: Decimal("0.03")}),
                ShockSet(label="down", by_asset_class={AssetClass.FX: Decimal("-0.03")}),
            ),
            _scenario(
                "crypto_crash_2018",
                "January 2018 crypto crash: each symbol's worst peak-to-trough move in the "
                "data (pass crash_shocks(...) as shocks); other crypto falls 30 %.",
                ShockSet(label="crash", by_asset_class={AssetClass.CRYPTO: CRYPTO_DEFAULT_SHOCK}),
            ),
        )
    }
)


def crash_shocks(closes_by_symbol: Mapping[str, FloatSeries]) -> dict[str, Decimal]:
    """Worst peak-to-trough return of each symbol's closes (time-ordered), e.g. -0.175.

    That is min over t of close_t / max(close_0..close_t) - 1, rounded down to
    ``SHOCK_PRECISION``. Each series needs two or more finite, positive closes.
    """
    shocks: dict[str, Decimal] = {}
    for symbol, closes in closes_by_symbol.items():
        try:
            prices = np.asarray(closes, dtype=np.float64)
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise InvalidRiskInputError(f"closes of {symbol} must be numbers: {exc}") from exc
        if prices.ndim != 1 or len(prices) < 2:
            raise InvalidRiskInputError(f"closes of {symbol} need at least two prices in a row")
        if not (np.isfinite(prices).all() and (prices > 0).all()):
            raise InvalidRiskInputError(f"closes of {symbol} must all be finite and positive")
        peaks = np.maximum.accumulate(prices)
        worst = int(np.argmin(prices / peaks))
        # The return itself is taken in Decimal so float noise cannot tip the floor rounding.
        trough, peak = (Decimal(float.__repr__(float(x))) for x in (prices[worst], peaks[worst]))
        shocks[symbol] = (trough / peak - _ONE).quantize(SHOCK_PRECISION, rounding=ROUND_FLOOR)
    return shocks


def run_stress_test(
    scenario_name: str,
    *,
    positions: Mapping[str, Decimal],
    marks: Mapping[str, Decimal],
    asset_classes: Mapping[str, AssetClass],
    open_orders: Sequence[Order] = (),
    equity: Decimal,
    shocks: Mapping[str, Decimal] | None = None,
) -> StressResult:
    """P&L of ``positions`` (signed quantities) and open orders under ``scenario_name``.

    See the module doc for how open orders, variants and per-symbol ``shocks`` are treated.
    Raises :class:`InvalidRiskInputError` for an unknown scenario (listing the known names) or
    input the stress cannot be computed on.
    """
    scenario = SCENARIOS.get(scenario_name)
    if scenario is None:
        known = ", ".join(sorted(SCENARIOS))
        raise InvalidRiskInputError(f"unknown stress scenario {scenario_name!r}; known: {known}")
    equity = finite_decimal(equity, "equity")
    if equity <= 0:
        raise InvalidRiskInputError(f"equity must be positive for a stress test, got {equity}")
    overrides = {s: _shock(v, f"shock for {s}") for s, v in (shocks or {}).items()}
    legs = _legs(positions, marks, open_orders)
    for symbol in legs:
        if symbol not in asset_classes:
            raise InvalidRiskInputError(f"no asset class for {symbol}: cannot choose its shock")

    outcomes = []
    for variant in scenario.variants:
        applied = {
            symbol: overrides.get(symbol, variant.by_asset_class.get(asset_classes[symbol], ZERO))
            for symbol in legs
        }
        pnl = {
            symbol: sum(
                (qty * (mark * (_ONE + applied[symbol]) - fill) for qty, fill in entries),
                start=ZERO,
            )
            for symbol, (mark, entries) in legs.items()
        }
        outcomes.append((sum(pnl.values(), start=ZERO), variant.label, applied, pnl))
    total, label, applied, pnl = min(outcomes, key=lambda outcome: outcome[0])
    return StressResult(
        scenario=scenario.name,
        variant=label,
        equity=equity,
        shocks=applied,
        pnl_by_symbol=pnl,
        total_pnl=total,
        pnl_pct_of_equity=total / equity * _HUNDRED,
        stressed_equity=equity + total,
        open_orders_included=sum(1 for o in open_orders if _is_live(o)),
    )


def _legs(
    positions: Mapping[str, Decimal], marks: Mapping[str, Decimal], open_orders: Sequence[Order]
) -> dict[str, tuple[Decimal, list[tuple[Decimal, Decimal]]]]:
    """Per symbol: its mark and (signed quantity, entry price) legs; positions enter at the mark."""
    legs: dict[str, tuple[Decimal, list[tuple[Decimal, Decimal]]]] = {}

    def entries(symbol: str) -> tuple[Decimal, list[tuple[Decimal, Decimal]]]:
        if symbol not in legs:
            legs[symbol] = (_mark(marks, symbol), [])
        return legs[symbol]

    for symbol, quantity in sorted(positions.items()):
        mark, symbol_legs = entries(symbol)
        symbol_legs.append((finite_decimal(quantity, f"position {symbol}"), mark))
    for order in open_orders:
        if _is_live(order):
            mark, symbol_legs = entries(order.symbol)
            symbol_legs.append((order.signed_remaining, _fill_price(order, mark)))
    return legs


def _is_live(order: Order) -> bool:
    return order.status.is_open and order.remaining_quantity > 0


def _fill_price(order: Order, mark: Decimal) -> Decimal:
    if order.order_type is OrderType.STOP and order.stop_price is not None:
        return order.stop_price
    if order.limit_price is not None:
        return order.limit_price
    return mark


def _mark(marks: Mapping[str, Decimal], symbol: str) -> Decimal:
    if symbol not in marks:
        raise InvalidRiskInputError(f"no mark for {symbol}: cannot stress it")
    mark = finite_decimal(marks[symbol], f"mark of {symbol}")
    if mark <= 0:
        raise InvalidRiskInputError(f"mark of {symbol} must be positive, got {mark}")
    return mark


def _shock(value: Decimal, name: str) -> Decimal:
    shock = finite_decimal(value, name)
    if shock < -_ONE:
        raise InvalidRiskInputError(f"{name} cannot be below -1 (-100 %), got {shock}")
    return shock
