"""Order construction rules and ``Order.with_fill`` bookkeeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from trading_core.domain.order import (
    IllegalTransitionError,
    Order,
    OrderStatus,
    OrderType,
    Side,
)

LATER = datetime(2024, 3, 1, 15, 0, tzinfo=UTC)
OrderFactory = Callable[..., Order]


@pytest.fixture
def sent(make_order: OrderFactory) -> Order:
    return make_order().transition(OrderStatus.SENT, at=LATER)


def test_partial_then_full_fill_tracks_quantity_and_average(sent: Order) -> None:
    partial = sent.with_fill(Decimal(4), Decimal(100), at=LATER)

    assert partial.status is OrderStatus.PARTIAL
    assert partial.filled_quantity == Decimal(4)
    assert partial.remaining_quantity == Decimal(6)
    assert partial.average_fill_price == Decimal(100)

    full = partial.with_fill(Decimal(6), Decimal(105), at=LATER)

    # (4 x 100 + 6 x 105) / 10 = (400 + 630) / 10 = 103
    assert full.status is OrderStatus.FILLED
    assert full.filled_quantity == Decimal(10)
    assert full.remaining_quantity == Decimal(0)
    assert full.average_fill_price == Decimal(103)


def test_several_partials_stay_partial_until_the_last_unit(sent: Order) -> None:
    order = sent
    for _ in range(9):
        order = order.with_fill(Decimal(1), Decimal(100), at=LATER)
        assert order.status is OrderStatus.PARTIAL
    assert order.with_fill(Decimal(1), Decimal(100), at=LATER).status is OrderStatus.FILLED


def test_fractional_fills_average_exactly(make_order: OrderFactory) -> None:
    order = make_order(quantity=Decimal("0.3")).transition(OrderStatus.SENT, at=LATER)

    order = order.with_fill(Decimal("0.1"), Decimal("20000.5"), at=LATER)
    order = order.with_fill(Decimal("0.2"), Decimal("20003.5"), at=LATER)

    # (0.1 x 20000.5 + 0.2 x 20003.5) / 0.3 = (2000.05 + 4000.70) / 0.3 = 20002.5
    assert order.status is OrderStatus.FILLED
    assert order.average_fill_price == Decimal("20002.5")


def test_fill_beyond_order_quantity_is_refused(sent: Order) -> None:
    partial = sent.with_fill(Decimal(7), Decimal(100), at=LATER)

    with pytest.raises(ValueError, match="exceed"):
        partial.with_fill(Decimal(4), Decimal(100), at=LATER)
    assert partial.filled_quantity == Decimal(7)


def test_a_filled_order_accepts_no_further_fill(sent: Order) -> None:
    filled = sent.with_fill(Decimal(10), Decimal(100), at=LATER)

    with pytest.raises(ValueError, match="exceed"):
        filled.with_fill(Decimal("0.0001"), Decimal(100), at=LATER)


@pytest.mark.parametrize("quantity", [Decimal(0), Decimal(-1)])
def test_non_positive_fill_quantity_is_refused(sent: Order, quantity: Decimal) -> None:
    with pytest.raises(ValueError, match="positive"):
        sent.with_fill(quantity, Decimal(100), at=LATER)


def test_a_cancelled_order_cannot_be_filled(sent: Order) -> None:
    cancelled = sent.transition(OrderStatus.CANCELLED, at=LATER)

    with pytest.raises(IllegalTransitionError):
        cancelled.with_fill(Decimal(1), Decimal(100), at=LATER)


def test_an_unknown_order_can_be_resolved_by_a_fill(sent: Order) -> None:
    unknown = sent.transition(OrderStatus.UNKNOWN, at=LATER)

    assert unknown.with_fill(Decimal(10), Decimal(99), at=LATER).status is OrderStatus.FILLED


@pytest.mark.parametrize("price", [Decimal(0), Decimal(-3)])
def test_fill_at_a_non_positive_price_is_refused(sent: Order, price: Decimal) -> None:
    with pytest.raises(ValueError, match="price"):
        sent.with_fill(Decimal(5), price, at=LATER)


def test_limit_order_without_price_is_refused(make_order: OrderFactory) -> None:
    with pytest.raises(ValidationError, match="needs a limit_price"):
        make_order(order_type=OrderType.LIMIT, limit_price=None)


def test_stop_order_without_stop_price_is_refused(make_order: OrderFactory) -> None:
    with pytest.raises(ValidationError, match="needs a stop_price"):
        make_order(order_type=OrderType.STOP, limit_price=None)


@pytest.mark.parametrize(
    ("limit", "stop"), [(None, Decimal(95)), (Decimal(95), None)], ids=["no-limit", "no-stop"]
)
def test_stop_limit_order_needs_both_prices(
    make_order: OrderFactory, limit: Decimal | None, stop: Decimal | None
) -> None:
    with pytest.raises(ValidationError, match="needs a"):
        make_order(order_type=OrderType.STOP_LIMIT, limit_price=limit, stop_price=stop)


def test_market_order_needs_no_price(make_order: OrderFactory) -> None:
    order = make_order(order_type=OrderType.MARKET, limit_price=None)

    assert order.limit_price is None
    assert order.status is OrderStatus.PENDING


@pytest.mark.parametrize("quantity", [Decimal(0), Decimal(-5)])
def test_order_quantity_must_be_positive(make_order: OrderFactory, quantity: Decimal) -> None:
    with pytest.raises(ValidationError, match="greater than zero"):
        make_order(quantity=quantity)


def test_order_built_with_more_filled_than_ordered_is_refused(make_order: OrderFactory) -> None:
    with pytest.raises(ValidationError, match="filled quantity exceeds"):
        make_order(filled_quantity=Decimal(11))


def test_order_with_naive_created_at_is_refused(make_order: OrderFactory) -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        make_order(created_at=datetime(2024, 3, 1))


def test_order_rejects_unknown_fields(make_order: OrderFactory) -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        make_order(leverage=Decimal(5))


def test_orders_are_immutable(make_order: OrderFactory) -> None:
    order = make_order()
    with pytest.raises(ValidationError, match="frozen"):
        order.quantity = Decimal(1)  # type: ignore[misc]


def test_sell_remaining_is_signed_negative(make_order: OrderFactory) -> None:
    order = make_order(side=Side.SELL, filled_quantity=Decimal(3), status=OrderStatus.PARTIAL)

    assert order.remaining_quantity == Decimal(7)
    assert order.signed_remaining == Decimal(-7)


def test_side_sign_and_opposite() -> None:
    assert (Side.BUY.sign, Side.SELL.sign) == (1, -1)
    assert (Side.BUY.opposite, Side.SELL.opposite) == (Side.SELL, Side.BUY)
