"""Orders, fills and positions, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from trading_core.domain.errors import DuplicateOrderError
from trading_core.domain.fill import Fill
from trading_core.domain.order import Order, OrderStatus, OrderType, Side
from trading_core.domain.position import Position
from trading_core.ports.store import Store

pytestmark = pytest.mark.integration

TINY = Decimal("0.00000001")
LARGE = Decimal("123456789.123456789")


async def test_decimals_round_trip_exactly(
    store: Store, make_order: Callable[..., Order], make_fill: Callable[..., Fill]
) -> None:
    await store.save_order(make_order(quantity=LARGE, limit_price=TINY))
    await store.save_fill(make_fill(quantity=TINY, price=LARGE, commission=TINY))
    await store.save_position(Position(symbol="X", quantity=-LARGE, average_price=TINY))
    await store.set_risk_limit("max_notional", LARGE, updated_by="test")

    order = await store.get_order("ord-1")
    fill = (await store.list_fills())[0]
    position = (await store.list_positions())[0]
    assert order is not None
    assert (order.quantity, order.limit_price) == (LARGE, TINY)
    assert (fill.quantity, fill.price, fill.commission) == (TINY, LARGE, TINY)
    assert (position.quantity, position.average_price) == (-LARGE, TINY)
    assert (await store.get_risk_limits())["max_notional"] == LARGE


async def test_saved_order_is_found_by_order_id_and_by_client_order_id(
    store: Store, make_order: Callable[..., Order]
) -> None:
    order = make_order(order_type=OrderType.STOP_LIMIT, stop_price=Decimal("41000"))
    await store.save_order(order)

    assert await store.get_order("ord-1") == order
    assert await store.get_order_by_client_id("cli-1") == order
    assert await store.get_order("missing") is None
    assert await store.get_order_by_client_id("missing") is None


async def test_saving_an_order_again_updates_it_in_place(
    store: Store, t0: datetime, make_order: Callable[..., Order]
) -> None:
    order = make_order()
    await store.save_order(order)
    later = t0 + timedelta(seconds=5)
    sent = order.transition(OrderStatus.SENT, at=later, broker_order_id="b-77")
    filled = sent.with_fill(Decimal("0.5"), Decimal("41999.5"), at=later)

    await store.save_order(filled)

    assert await store.get_order("ord-1") == filled
    assert await store.list_orders() == [filled]


async def test_orders_are_listed_newest_first_filtered_by_status_and_symbol(
    store: Store, t0: datetime, make_order: Callable[..., Order]
) -> None:
    def at(minute: int) -> dict[str, object]:
        moment = t0 + timedelta(minutes=minute)
        return {"created_at": moment, "updated_at": moment}

    old_btc = make_order(order_id="o1", client_order_id="c1", **at(1))
    new_btc = make_order(order_id="o2", client_order_id="c2", **at(3))
    eth = make_order(order_id="o3", client_order_id="c3", symbol="ETH/USD", **at(2))
    done = make_order(order_id="o4", client_order_id="c4", status=OrderStatus.CANCELLED, **at(4))
    for order in (old_btc, eth, done, new_btc):
        await store.save_order(order)

    assert [o.order_id for o in await store.list_orders()] == ["o4", "o2", "o3", "o1"]
    assert [o.order_id for o in await store.list_orders(limit=2)] == ["o4", "o2"]
    assert [o.order_id for o in await store.list_orders(symbol="BTC/USD")] == ["o4", "o2", "o1"]
    open_btc = await store.list_orders(
        status=[OrderStatus.PENDING, OrderStatus.SENT], symbol="BTC/USD"
    )
    assert [o.order_id for o in open_btc] == ["o2", "o1"]
    assert await store.list_orders(status=[]) == []


async def test_second_order_with_the_same_client_order_id_is_refused(
    store: Store, make_order: Callable[..., Order]
) -> None:
    await store.save_order(make_order(order_id="ord-1", client_order_id="cli-1"))

    with pytest.raises(DuplicateOrderError, match=r"cli-1.*already belongs to order ord-1"):
        await store.save_order(make_order(order_id="ord-2", client_order_id="cli-1"))

    assert await store.get_order("ord-2") is None
    assert [o.order_id for o in await store.list_orders()] == ["ord-1"]


async def test_repeated_fill_id_is_recorded_once(
    store: Store, make_fill: Callable[..., Fill]
) -> None:
    fill = make_fill()

    assert await store.save_fill(fill) is True
    assert await store.save_fill(fill.model_copy(update={"quantity": Decimal(9)})) is False

    assert await store.list_fills() == [fill]


async def test_a_fill_is_booked_with_its_position_once_in_one_transaction(
    store: Store, make_fill: Callable[..., Fill]
) -> None:
    fill = make_fill(account="kraken")
    moved = Position(symbol=fill.symbol, quantity=Decimal(2), average_price=Decimal(100))

    assert await store.book_fill(fill, moved, account="kraken") is True
    again = moved.model_copy(update={"quantity": Decimal(4)})
    assert await store.book_fill(fill, again, account="kraken") is False  # a repeated report

    assert await store.list_fills() == [fill]
    assert [(p.symbol, p.quantity) for p in await store.list_positions(account="kraken")] == [
        (fill.symbol, Decimal(2))
    ]
    assert await store.list_positions() == []  # another book's positions are untouched


async def test_fills_are_listed_oldest_first_by_symbol_since_and_limit(
    store: Store, t0: datetime, make_fill: Callable[..., Fill]
) -> None:
    fills = [
        make_fill(fill_id=f"f{i}", symbol=symbol, timestamp=t0 + timedelta(minutes=i))
        for i, symbol in enumerate(["BTC/USD", "ETH/USD", "BTC/USD", "BTC/USD"])
    ]
    for fill in reversed(fills):
        await store.save_fill(fill)

    assert [f.fill_id for f in await store.list_fills()] == ["f0", "f1", "f2", "f3"]
    btc = await store.list_fills(symbol="BTC/USD", since=t0 + timedelta(minutes=1))
    assert [f.fill_id for f in btc] == ["f2", "f3"]
    assert [f.fill_id for f in await store.list_fills(limit=2)] == ["f2", "f3"]


async def test_saving_a_position_replaces_the_previous_one_for_that_symbol(
    store: Store,
    t0: datetime,
) -> None:
    await store.save_position(Position(symbol="ETH/USD", quantity=Decimal(2)))
    await store.save_position(Position(symbol="BTC/USD", quantity=Decimal(1)))
    updated = Position(
        symbol="BTC/USD",
        quantity=Decimal("-0.5"),
        average_price=Decimal("40000"),
        realized_pnl=Decimal("-12.5"),
        commissions=Decimal("0.4"),
        updated_at=t0,
    )
    await store.save_position(updated)

    assert await store.list_positions() == [
        updated,
        Position(symbol="ETH/USD", quantity=Decimal(2)),
    ]


async def test_orders_keep_their_side_and_timestamps_in_utc(
    store: Store, t0: datetime, make_order: Callable[..., Order]
) -> None:
    order = make_order(side=Side.SELL, order_type=OrderType.MARKET, limit_price=None)
    await store.save_order(order)

    loaded = await store.get_order("ord-1")

    assert loaded is not None
    assert loaded.side is Side.SELL
    assert loaded.limit_price is None
    assert loaded.created_at == t0
    assert loaded.created_at.utcoffset() == timedelta(0)
