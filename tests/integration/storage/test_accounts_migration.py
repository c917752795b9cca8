"""Migration 3: orders, fills and positions belong to a book; what existed is the paper account."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from trading_core.domain.fill import Fill
from trading_core.domain.order import PAPER_ACCOUNT, Order, replay_account
from trading_core.domain.position import Position
from trading_core.ports.store import Store
from trading_core.storage.migrations import latest_version
from trading_core.storage.schema_v1 import ORDERS_V1, POSITIONS_V1, TRADES_V1
from trading_core.storage.sql_store import SqlStore

from .conftest import insert_as_released


async def test_rows_written_before_accounts_upgrade_into_the_paper_account(
    fresh_store: Store, make_order: Callable[..., Order], make_fill: Callable[..., Fill]
) -> None:
    assert isinstance(fresh_store, SqlStore)
    assert await fresh_store.upgrade(target=2) == [1, 2]
    order, fill = make_order(), make_fill()
    position = Position(symbol="BTC/USD", quantity=Decimal("0.5"), average_price=Decimal(40_000))
    await insert_as_released(fresh_store, ORDERS_V1, order)
    await insert_as_released(fresh_store, TRADES_V1, fill)
    await insert_as_released(fresh_store, POSITIONS_V1, position)

    assert await fresh_store.upgrade() == list(range(3, latest_version() + 1))

    assert await fresh_store.list_orders(account=PAPER_ACCOUNT) == [order]
    assert await fresh_store.list_fills(account=PAPER_ACCOUNT) == [fill]
    assert [p.quantity for p in await fresh_store.list_positions()] == [Decimal("0.5")]


async def test_a_replays_book_is_kept_apart_from_the_paper_account(
    store: Store, make_order: Callable[..., Order], make_fill: Callable[..., Fill]
) -> None:
    replay = replay_account("0123abcd")
    await store.save_order(make_order())
    await store.save_order(make_order(order_id="ord-2", client_order_id="cli-2", account=replay))
    await store.save_fill(make_fill())
    await store.save_fill(make_fill(fill_id="fill-2", order_id="ord-2", account=replay))
    paper = Position(symbol="BTC/USD", quantity=Decimal(1), average_price=Decimal(40_000))
    replayed = paper.model_copy(update={"quantity": Decimal(-3)})
    await store.save_position(paper)
    await store.save_position(replayed, account=replay)

    assert [o.order_id for o in await store.list_orders(account=PAPER_ACCOUNT)] == ["ord-1"]
    assert [o.order_id for o in await store.list_orders(account=replay)] == ["ord-2"]
    assert len(await store.list_orders()) == 2
    assert [f.fill_id for f in await store.list_fills(account=replay)] == ["fill-2"]
    assert [p.quantity for p in await store.list_positions()] == [Decimal(1)]
    assert [p.quantity for p in await store.list_positions(account=replay)] == [Decimal(-3)]
