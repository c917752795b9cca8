"""Kelly fraction and capped position sizing, worked by hand in Decimal."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_core.risk.analytics import InvalidRiskInputError
from trading_core.risk.kelly import SizeResult, SizingConstraint, kelly_fraction, position_size
from trading_core.risk.limits import MAX_ORDER_NOTIONAL_PCT, MAX_POSITION_PCT

D = Decimal
EQUITY = D("100000")
PRICE = D("100")


@pytest.mark.parametrize(
    ("p", "b", "expected"),
    [
        (D("0.6"), D("1"), D("0.2")),  # 0.6 - 0.4 / 1
        (D("0.5"), D("2"), D("0.25")),  # 0.5 - 0.5 / 2
        (D("0.55"), D("1.5"), D("0.25")),  # 0.55 - 0.45 / 1.5 = 0.55 - 0.3
        (D("1"), D("1"), D("1")),
        (0.6, 1.0, D("0.2")),  # floats go through their shortest repr
    ],
)
def test_kelly_fraction_worked_examples(p: Decimal, b: Decimal, expected: Decimal) -> None:
    assert kelly_fraction(p, b) == expected


@pytest.mark.parametrize(("p", "b"), [(D("0.5"), D("1")), (D("0.4"), D("1")), (D("0"), D("3"))])
def test_no_edge_gives_a_zero_fraction(p: Decimal, b: Decimal) -> None:
    assert kelly_fraction(p, b) == 0


@pytest.mark.parametrize(
    ("p", "b", "message"),
    [
        (D("-0.1"), D("1"), r"win_probability must be in \[0, 1\]"),
        (D("1.1"), D("1"), r"win_probability must be in \[0, 1\]"),
        (math.nan, D("1"), "win_probability must be finite"),
        (D("NaN"), D("1"), "win_probability must be finite"),
        (D("0.6"), D("0"), "win_loss_ratio must be greater than zero"),
        (D("0.6"), D("-2"), "win_loss_ratio must be greater than zero"),
        (D("0.6"), math.inf, "win_loss_ratio must be finite"),
        (True, D("1"), "not a boolean"),
    ],
)
def test_invalid_kelly_inputs_are_refused(p: Decimal, b: Decimal, message: str) -> None:
    with pytest.raises(InvalidRiskInputError, match=message):
        kelly_fraction(p, b)


def test_quarter_kelly_of_a_60_percent_even_bet_is_5_percent_of_equity() -> None:
    # p=0.6, b=1 -> f* = 0.2; quarter = 0.05 -> 5,000 of 100,000 at 100 = 50 units, exactly
    # the 5 % order cap, which therefore does not reduce it: Kelly binds.
    result = position_size(
        equity=EQUITY, price=PRICE, win_probability=D("0.6"), win_loss_ratio=D("1"), lot_size=D(1)
    )
    assert result.full_kelly == D("0.2")
    assert result.kelly_multiplier == D("0.25")
    assert result.fractional_kelly == D("0.05")
    assert result.kelly_quantity == D("50")
    assert result.quantity == D("50")
    assert result.notional == D("5000")
    assert result.binding_constraint is SizingConstraint.KELLY


def _size(**overrides: object) -> SizeResult:
    arguments: dict[str, object] = {
        "equity": EQUITY,
        "price": PRICE,
        "win_probability": D("0.6"),
        "win_loss_ratio": D("1"),
        "lot_size": D("1"),
    }
    arguments.update(overrides)
    return position_size(**arguments)  # type: ignore[arg-type]


def test_a_small_edge_leaves_kelly_binding_under_every_cap() -> None:
    # p=0.51 -> f* = 0.02, quarter 0.005 -> 500 / 100 = 5 units
    result = _size(win_probability=D("0.51"), stop_distance=D("10"))
    assert result.quantity == D("5")
    assert result.binding_constraint is SizingConstraint.KELLY


def test_no_edge_sizes_to_zero_at_every_stage() -> None:
    result = _size(win_probability=D("0.45"))
    assert result.full_kelly == 0
    assert result.quantity == 0
    assert result.after_max_quantity == 0
    assert result.binding_constraint is SizingConstraint.NO_EDGE


def test_order_notional_cap_binds() -> None:
    # Kelly 50 units; 2 % of 100,000 = 2,000 -> 20 units
    result = _size(max_order_notional_pct=D("2"))
    assert result.kelly_quantity == D("50")
    assert result.after_order_notional_cap == D("20")
    assert result.quantity == D("20")
    assert result.binding_constraint is SizingConstraint.ORDER_NOTIONAL


def test_a_configured_cap_above_the_hard_cap_is_clipped_to_it() -> None:
    # Full Kelly 0.2 -> 200 units; 50 % asked but the hard cap is 5 % -> 50 units
    result = _size(fraction=D("1"), max_order_notional_pct=D("50"), max_position_pct=D("90"))
    assert D("5") == MAX_ORDER_NOTIONAL_PCT
    assert result.kelly_quantity == D("200")
    assert result.quantity == D("50")
    assert result.binding_constraint is SizingConstraint.ORDER_NOTIONAL


def test_position_cap_counts_what_is_already_held_or_on_order() -> None:
    # 10 % of 100,000 at 100 = 100 units; 85 held -> room 15
    result = _size(existing_quantity=D("85"))
    assert D("10") == MAX_POSITION_PCT
    assert result.after_order_notional_cap == D("50")
    assert result.after_position_cap == D("15")
    assert result.quantity == D("15")
    assert result.binding_constraint is SizingConstraint.POSITION


def test_a_full_position_leaves_no_room() -> None:
    result = _size(existing_quantity=D("120"))
    assert result.quantity == 0
    assert result.binding_constraint is SizingConstraint.POSITION


def test_risk_per_trade_cap_binds_with_a_stop() -> None:
    # 1 % of 100,000 = 1,000 at risk; stop 50 away -> 20 units
    result = _size(stop_distance=D("50"))
    assert result.after_position_cap == D("50")
    assert result.after_risk_per_trade_cap == D("20")
    assert result.quantity == D("20")
    assert result.binding_constraint is SizingConstraint.RISK_PER_TRADE


def test_without_a_stop_the_risk_cap_does_not_apply() -> None:
    result = _size(risk_per_trade_pct=D("0.01"))
    assert result.after_risk_per_trade_cap == D("50")
    assert result.binding_constraint is SizingConstraint.KELLY


def test_instrument_max_quantity_binds() -> None:
    result = _size(max_quantity=D("7"))
    assert result.quantity == D("7")
    assert result.binding_constraint is SizingConstraint.MAX_QUANTITY


def test_quantity_is_rounded_down_to_the_lot() -> None:
    # 5,000 / 300 = 16.67 units; lots of 5 -> 15, never 20
    result = _size(price=D("300"), lot_size=D("5"))
    assert result.quantity == D("15")
    assert result.notional == D("4500")
    fractional = _size(price=D("300"), lot_size=D("0.001"))
    assert fractional.quantity == D("16.666")


def test_a_size_below_one_lot_is_zero_and_says_so() -> None:
    result = _size(price=D("300"), lot_size=D("100"))
    assert result.quantity == 0
    assert result.binding_constraint is SizingConstraint.LOT_SIZE


def test_a_size_below_the_minimum_quantity_is_zero() -> None:
    result = _size(min_quantity=D("60"))
    assert result.quantity == 0
    assert result.binding_constraint is SizingConstraint.MIN_QUANTITY


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"equity": D("0")}, "equity must be greater than zero"),
        ({"equity": D("NaN")}, "equity must be finite"),
        ({"price": D("-1")}, "price must be greater than zero"),
        ({"lot_size": D("0")}, "lot_size must be greater than zero"),
        ({"fraction": D("0")}, "fraction must be greater than zero"),
        ({"fraction": D("1.5")}, "fraction must be at most 1"),
        ({"stop_distance": D("0")}, "stop_distance must be greater than zero"),
        ({"existing_quantity": D("-1")}, "existing_quantity must not be negative"),
        ({"max_order_notional_pct": D("0")}, "max_order_notional_pct must be greater than zero"),
        ({"win_probability": D("2")}, "win_probability"),
        ({"win_loss_ratio": D("0")}, "win_loss_ratio"),
    ],
)
def test_invalid_sizing_inputs_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRiskInputError, match=message):
        _size(**overrides)


@settings(max_examples=200, deadline=None)
@given(
    p=st.decimals(min_value=0, max_value=1, places=3),
    b=st.decimals(min_value=D("0.1"), max_value=10, places=2),
    price=st.decimals(min_value=D("0.01"), max_value=100_000, places=2),
    lot=st.sampled_from([D("1"), D("0.1"), D("0.0001"), D("10")]),
    stop=st.none() | st.decimals(min_value=D("0.01"), max_value=1_000, places=2),
    held=st.decimals(min_value=0, max_value=1_000, places=1),
)
def test_the_size_never_breaks_a_cap_and_is_a_whole_number_of_lots(
    p: Decimal, b: Decimal, price: Decimal, lot: Decimal, stop: Decimal | None, held: Decimal
) -> None:
    result = position_size(
        equity=EQUITY,
        price=price,
        win_probability=p,
        win_loss_ratio=b,
        lot_size=lot,
        stop_distance=stop,
        existing_quantity=held,
    )
    assert result.quantity >= 0
    assert result.quantity % lot == 0
    assert result.notional <= EQUITY * result.fractional_kelly
    assert result.notional <= EQUITY * D("0.05")
    assert (held + result.quantity) * price <= max(EQUITY * D("0.10"), held * price)
    if stop is not None:
        assert result.quantity * stop <= EQUITY * D("0.01")
