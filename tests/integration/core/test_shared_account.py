"""Two processes on one database trade one paper account: one book, one set of caps.

Each "process" is a full ``open_app`` (its own store connection, paper broker, ledger and order
service, as an MCP server or the CLI opens it), on one SQLite file or one PostgreSQL database.
Their orders race: the order gate (``Store.order_gate``) must make them take turns, each seeing
the other's fills and open orders, so a position cap that holds for one process holds for both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.order import OrderType, Side, TimeInForce
from trading_core.execution.order_service import OutcomeStatus
from trading_core.risk.pretrade import OrderRequest
from trading_core.services.container import TradingApp, open_app
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings

START = datetime(2026, 1, 5, 12, 0, 30, tzinfo=UTC)
BTC = "BTC/USD"


@pytest.fixture
async def two(db_url: str) -> AsyncIterator[tuple[TradingApp, TradingApp]]:
    settings = load_settings(config_dir=PACKAGED_CONFIG_DIR, db_url=db_url)
    first = await open_app(settings, channel="mcp", clock=SimulatedClock(START))
    second = await open_app(settings, channel="cli", clock=SimulatedClock(START))
    yield first, second
    await first.close()
    await second.close()


def buy(quantity: Decimal, cid: str, limit: Decimal | None = None) -> OrderRequest:
    return OrderRequest(
        symbol=BTC,
        side=Side.BUY,
        quantity=quantity,
        order_type=OrderType.MARKET if limit is None else OrderType.LIMIT,
        limit_price=limit,
        time_in_force=TimeInForce.IOC if limit is None else TimeInForce.GTC,
        client_order_id=cid,
    )


async def lot(app: TradingApp, share_of_cap: str) -> Decimal:
    """A quantity worth ``share_of_cap`` of the position cap (10 % of equity) at the ask."""
    quote = await app.feed.latest_quote(BTC)
    cap = app.account.portfolio.equity / 10
    return (cap * Decimal(share_of_cap) / quote.ask).quantize(Decimal("0.0001"), ROUND_DOWN)


async def test_two_processes_racing_for_the_last_room_under_the_cap_get_one_order_through(
    two: tuple[TradingApp, TradingApp],
) -> None:
    first, second = two
    held = await first.orders.place(buy(await lot(first, "0.3"), "held"))
    assert held.status is OutcomeStatus.FILLED, held.codes
    # 30 % of the cap held: room for one more order of 45 % or 44 %, not for both.
    quantities = {"from-first": await lot(first, "0.45"), "from-second": await lot(first, "0.44")}

    outcomes = await asyncio.gather(
        first.orders.place(buy(quantities["from-first"], "from-first")),
        second.orders.place(buy(quantities["from-second"], "from-second")),
    )

    statuses = sorted(o.status for o in outcomes)
    assert statuses == [OutcomeStatus.FILLED, OutcomeStatus.REJECTED], [o.codes for o in outcomes]
    refused = next(o for o in outcomes if o.status is OutcomeStatus.REJECTED)
    assert "POSITION_LIMIT" in refused.codes
    filled = next(o for o in outcomes if o.status is OutcomeStatus.FILLED)
    assert filled.order is not None
    total = held.fills[0].quantity + filled.order.filled_quantity
    for app in (first, second):
        await app.refresh()
        assert app.account.portfolio.position(BTC).quantity == total
    stored = await first.store.list_positions()
    assert [(p.symbol, p.quantity) for p in stored] == [(BTC, total)]


async def test_an_order_resting_in_one_process_counts_against_the_caps_of_the_other(
    two: tuple[TradingApp, TradingApp],
) -> None:
    first, second = two
    held = await first.orders.place(buy(await lot(first, "0.3"), "held"))
    assert held.status is OutcomeStatus.FILLED, held.codes
    quote = await first.feed.latest_quote(BTC)
    below = (quote.bid * Decimal("0.995")).quantize(Decimal("0.1"))
    resting = await first.orders.place(buy(await lot(first, "0.45"), "resting", limit=below))
    assert resting.status is OutcomeStatus.ACCEPTED, resting.codes

    # 30 % held, 45 % resting in the other process, 44 % here: 119 % of the cap.
    refused = await second.orders.place(buy(await lot(second, "0.44"), "second-buy"))

    assert refused.status is OutcomeStatus.REJECTED
    assert "POSITION_LIMIT" in refused.codes
    assert [o.client_order_id for o in second.orders.account_open_orders()] == ["resting"]
    assert second.orders.open_orders() == []  # it is not this process's to cancel


async def test_a_flatten_refused_in_one_process_is_still_sent_by_the_one_holding_the_orders(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADING_KILL_SWITCH__FLATTEN", "all")
    settings = load_settings(config_dir=PACKAGED_CONFIG_DIR, db_url=db_url)
    holder = await open_app(settings, channel="cli", clock=SimulatedClock(START))
    other = await open_app(settings, channel="mcp", clock=SimulatedClock(START))
    try:
        held = await holder.orders.place(buy(await lot(holder, "0.3"), "held"))
        assert held.status is OutcomeStatus.FILLED, held.codes
        quantity = held.fills[0].quantity
        quote = await holder.feed.latest_quote(BTC)
        resting = await holder.orders.place(
            OrderRequest(
                symbol=BTC,
                side=Side.SELL,
                quantity=(quantity / 2).quantize(Decimal("0.0001")),
                order_type=OrderType.LIMIT,
                limit_price=(quote.ask * Decimal("1.01")).quantize(Decimal("0.1")),
                client_order_id="resting-sell",
            )
        )
        assert resting.status is OutcomeStatus.ACCEPTED, resting.codes

        # The kill reaches the other process first: its flatten would oversell with the
        # holder's sell still resting, so it is refused, and must not claim the episode.
        await other.state.activate_kill_switch(reason="drill", by="alice")
        assert other.account.portfolio.position(BTC).quantity == quantity
        await holder.refresh()  # the holder cancels its sell, then flattens

        await other.refresh()
        assert holder.account.portfolio.position(BTC).quantity == 0
        assert other.account.portfolio.position(BTC).quantity == 0
    finally:
        await holder.close()
        await other.close()
