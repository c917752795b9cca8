"""Position.apply_fill for long and short books; every number is worked out in the comments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trading_core.domain.fill import Fill
from trading_core.domain.order import Side
from trading_core.domain.position import Position

BUY, SELL = Side.BUY, Side.SELL
FillFactory = Callable[..., Fill]


def _apply(position: Position, *fills: Fill) -> Position:
    for fill in fills:
        position = position.apply_fill(fill)
    return position


def test_opening_a_long_sets_quantity_average_and_commission(make_fill: FillFactory) -> None:
    position = Position(symbol="XYZ").apply_fill(make_fill(BUY, "10", "100", commission="1"))

    assert position.quantity == Decimal(10)
    assert position.average_price == Decimal(100)
    assert position.realized_pnl == Decimal(0)
    assert position.commissions == Decimal(1)
    assert not position.is_flat


def test_long_add_reduce_close_realizes_pnl_and_keeps_average(make_fill: FillFactory) -> None:
    position = _apply(
        Position(symbol="XYZ"),
        make_fill(BUY, "10", "100", commission="1"),
        make_fill(BUY, "5", "106", commission="0.5"),
    )
    # (10 x 100 + 5 x 106) / 15 = 1530 / 15 = 102
    assert position.quantity == Decimal(15)
    assert position.average_price == Decimal(102)
    assert position.commissions == Decimal("1.5")

    position = position.apply_fill(make_fill(SELL, "6", "110", commission="0.25"))
    # reducing realizes (110 - 102) x 6 = 48 and leaves the average alone
    assert position.quantity == Decimal(9)
    assert position.average_price == Decimal(102)
    assert position.realized_pnl == Decimal(48)

    position = position.apply_fill(make_fill(SELL, "9", "95", commission="0.25"))
    # closing at a loss: 48 + (95 - 102) x 9 = 48 - 63 = -15; commissions stay apart
    assert position.is_flat
    assert position.average_price == Decimal(0)
    assert position.realized_pnl == Decimal(-15)
    assert position.commissions == Decimal(2)


def test_short_add_reduce_close_realizes_pnl_with_inverted_sign(make_fill: FillFactory) -> None:
    position = _apply(
        Position(symbol="XYZ"),
        make_fill(SELL, "8", "50"),
        make_fill(SELL, "2", "45"),
    )
    # (8 x 50 + 2 x 45) / 10 = 490 / 10 = 49
    assert position.quantity == Decimal(-10)
    assert position.average_price == Decimal(49)

    position = position.apply_fill(make_fill(BUY, "4", "40"))
    # covering below entry earns (49 - 40) x 4 = 36
    assert position.quantity == Decimal(-6)
    assert position.average_price == Decimal(49)
    assert position.realized_pnl == Decimal(36)

    position = position.apply_fill(make_fill(BUY, "6", "52"))
    # covering above entry loses (49 - 52) x 6 = -18 -> 36 - 18 = 18
    assert position.is_flat
    assert position.average_price == Decimal(0)
    assert position.realized_pnl == Decimal(18)


def test_long_flips_to_short_through_zero_at_the_fill_price(make_fill: FillFactory) -> None:
    position = _apply(
        Position(symbol="XYZ"),
        make_fill(BUY, "10", "100"),
        make_fill(SELL, "15", "110"),
    )
    # 10 close at +10 each = 100 realized; the other 5 open a short at 110
    assert position.quantity == Decimal(-5)
    assert position.average_price == Decimal(110)
    assert position.realized_pnl == Decimal(100)

    position = position.apply_fill(make_fill(BUY, "2", "100"))
    # the new short's P&L is measured from 110, not the old long's 100: 100 + (110 - 100) x 2
    assert position.quantity == Decimal(-3)
    assert position.realized_pnl == Decimal(120)


def test_short_flips_to_long_through_zero_at_the_fill_price(make_fill: FillFactory) -> None:
    position = _apply(
        Position(symbol="XYZ"),
        make_fill(SELL, "4", "20"),
        make_fill(BUY, "10", "18"),
    )
    # 4 covered at +2 each = 8; 6 left long from 18
    assert position.quantity == Decimal(6)
    assert position.average_price == Decimal(18)
    assert position.realized_pnl == Decimal(8)


def test_reopening_after_flat_starts_a_fresh_average(make_fill: FillFactory) -> None:
    position = _apply(
        Position(symbol="XYZ"),
        make_fill(BUY, "3", "10"),
        make_fill(SELL, "3", "12"),
        make_fill(BUY, "2", "30"),
    )

    assert position.quantity == Decimal(2)
    assert position.average_price == Decimal(30)
    assert position.realized_pnl == Decimal(6)


def test_unrealized_pnl_and_market_value_for_long_and_short() -> None:
    long = Position(symbol="XYZ", quantity=Decimal(10), average_price=Decimal(102))
    short = Position(symbol="XYZ", quantity=Decimal(-6), average_price=Decimal(49))

    assert long.unrealized_pnl(Decimal(105)) == Decimal(30)  # (105 - 102) x 10
    assert long.market_value(Decimal(105)) == Decimal(1050)
    assert short.unrealized_pnl(Decimal(47)) == Decimal(12)  # (47 - 49) x -6
    assert short.market_value(Decimal(47)) == Decimal(-282)


def test_fill_timestamp_becomes_the_position_update_time(make_fill: FillFactory) -> None:
    at = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)

    position = Position(symbol="XYZ").apply_fill(make_fill(BUY, "1", "5", timestamp=at))

    assert position.updated_at == at


def test_fill_for_another_symbol_is_refused(make_fill: FillFactory) -> None:
    with pytest.raises(ValueError, match="ABC applied to position in XYZ"):
        Position(symbol="XYZ").apply_fill(make_fill(BUY, "1", "5", symbol="ABC"))


def test_fill_notional_and_signed_quantity(make_fill: FillFactory) -> None:
    sell = make_fill(SELL, "2.5", "40.2")

    assert sell.notional == Decimal("100.50")
    assert sell.signed_quantity == Decimal("-2.5")
