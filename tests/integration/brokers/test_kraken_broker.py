"""KrakenBroker through ccxt over real HTTP against the local Kraken fake."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.errors import BrokerError, OrderNotFoundError
from trading_core.domain.market import Quote
from trading_core.domain.order import Order, OrderStatus, OrderType, Side, TimeInForce
from trading_core.execution.kraken_broker import KrakenBroker, kraken_client_id, trading_exchange

from .conftest import FAST, T0
from .kraken_fake import API_KEY, TAKER_FEE, KrakenFake

SYMBOL = "BTC/USD"
PAIR = "XXBTZUSD"


def order(
    quantity: str = "0.01",
    *,
    side: Side = Side.BUY,
    limit: str | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    order_type: OrderType | None = None,
) -> Order:
    return Order(
        order_id=uuid4().hex,
        client_order_id=f"tc-{uuid4().hex[:20]}",
        symbol=SYMBOL,
        side=side,
        quantity=Decimal(quantity),
        order_type=order_type or (OrderType.LIMIT if limit else OrderType.MARKET),
        limit_price=Decimal(limit) if limit else None,
        time_in_force=tif,
        broker="kraken",
        created_at=T0,
        updated_at=T0,
    )


def quote(clock: SimulatedClock) -> Quote:
    return Quote(
        symbol=SYMBOL,
        bid=Decimal("39999.9"),
        ask=Decimal("40000.1"),
        last=Decimal("40000.0"),
        volume=Decimal(0),
        timestamp=clock.now(),
        source="test",
    )


async def test_a_market_buy_fills_with_kraken_s_exact_price_and_fee(
    broker: KrakenBroker, kraken: KrakenFake
) -> None:
    sent = order("0.01")
    report = await broker.submit(sent)

    assert report.order.status is OrderStatus.FILLED
    assert report.order.broker_order_id in kraken.orders
    (fill,) = report.fills
    assert fill.quantity == Decimal("0.01")
    assert fill.price == Decimal("40000")
    assert fill.commission == Decimal("400") * TAKER_FEE  # 0.26 % of the cost, exact
    assert fill.liquidity == "taker"
    (form,) = kraken.calls("AddOrder")
    assert form["pair"] == PAIR
    assert form["type"] == "buy"
    assert form["ordertype"] == "market"
    assert Decimal(form["volume"]) == Decimal("0.01")
    # The id Kraken keeps is derived from ours, so a lookup after a restart finds the order.
    assert form["cl_ord_id"] == kraken_client_id(sent.client_order_id)
    assert kraken.balances["XXBT"] == Decimal("0.01")


async def test_a_resting_limit_reports_each_partial_fill_once(
    broker: KrakenBroker, kraken: KrakenFake, clock: SimulatedClock
) -> None:
    report = await broker.submit(order("0.03", limit="39000.0"))
    resting = report.order
    assert resting.status is OrderStatus.SENT
    assert report.fills == ()
    txid = resting.broker_order_id
    assert txid is not None
    assert [o.order_id for o in await broker.open_orders()] == [resting.order_id]

    kraken.execute(txid, Decimal("0.01"), Decimal("39000.0"))
    first = await broker.on_quote(quote(clock))
    clock.advance_to(clock.now() + timedelta(seconds=3))
    again = await broker.on_quote(quote(clock))  # nothing new at Kraken: nothing reported

    fills = [f for r in first for f in r.fills]
    assert [f.quantity for f in fills] == [Decimal("0.01")]
    assert fills[0].price == Decimal("39000")
    assert fills[0].liquidity == "maker"
    assert first[-1].order.status is OrderStatus.PARTIAL
    assert again == []

    kraken.execute(txid, Decimal("0.02"), Decimal("38990.0"))
    clock.advance_to(clock.now() + timedelta(seconds=3))
    (last,) = await broker.on_quote(quote(clock))
    (second,) = last.fills
    assert second.quantity == Decimal("0.02")
    assert second.price == Decimal("38990")
    assert second.fill_id != fills[0].fill_id
    assert second.commission == Decimal("779.8") * TAKER_FEE  # only this fill's share of fee
    assert last.order.status is OrderStatus.FILLED
    assert last.order.filled_quantity == Decimal("0.03")
    assert await broker.open_orders() == []


async def test_polling_is_spaced_however_often_quotes_arrive(
    broker: KrakenBroker, kraken: KrakenFake, clock: SimulatedClock
) -> None:
    await broker.submit(order("0.01", limit="39000.0"))
    before = len(kraken.calls("QueryOrders"))
    for _ in range(20):
        await broker.on_quote(quote(clock))  # the same instant: at most one poll
    assert len(kraken.calls("QueryOrders")) - before == 1


async def test_cancel_cancels_a_resting_order_and_reports_a_fill_that_came_first(
    broker: KrakenBroker, kraken: KrakenFake
) -> None:
    resting = (await broker.submit(order("0.01", limit="39000.0"))).order
    cancelled = await broker.cancel(resting.order_id)
    assert cancelled.order.status is OrderStatus.CANCELLED
    assert kraken.orders[resting.broker_order_id or ""].status == "canceled"

    traded = (await broker.submit(order("0.01", limit="39000.0"))).order
    kraken.execute(traded.broker_order_id or "", Decimal("0.01"), Decimal("39000.0"))
    late = await broker.cancel(traded.order_id)  # Kraken: unknown order (already closed)
    assert late.order.status is OrderStatus.FILLED
    assert [f.quantity for f in late.fills] == [Decimal("0.01")]
    with pytest.raises(OrderNotFoundError):
        await broker.cancel("no-such-order")


@pytest.mark.parametrize(
    ("error", "fragment"),
    [
        ("EOrder:Insufficient funds", "Insufficient funds"),
        ("EOrder:Order minimum not met", "Order minimum not met"),
        ("EGeneral:Permission denied", "Permission denied"),
    ],
)
async def test_a_refusal_in_kraken_s_error_envelope_is_a_rejection_with_its_reason(
    broker: KrakenBroker, kraken: KrakenFake, error: str, fragment: str
) -> None:
    kraken.fail_next("AddOrder", error)
    report = await broker.submit(order())
    assert report.order.status is OrderStatus.REJECTED
    assert fragment in (report.order.status_reason or "")
    assert kraken.orders == {}


async def test_the_fake_s_own_checks_refuse_an_order_too_large_for_the_cash(
    broker: KrakenBroker, kraken: KrakenFake
) -> None:
    report = await broker.submit(order("10"))  # 400,000 USD against 100,000
    assert report.order.status is OrderStatus.REJECTED
    assert "Insufficient funds" in (report.order.status_reason or "")


@pytest.mark.parametrize(
    "error", ["EService:Unavailable", "EAPI:Rate limit exceeded", "EAPI:Invalid nonce"]
)
async def test_an_answer_that_leaves_the_order_in_doubt_raises_broker_error(
    broker: KrakenBroker, kraken: KrakenFake, error: str
) -> None:
    kraken.fail_next("AddOrder", error)
    with pytest.raises(BrokerError):
        await broker.submit(order())


async def test_a_lost_acknowledgement_is_resolved_by_client_id_without_a_second_order(
    broker: KrakenBroker, kraken: KrakenFake
) -> None:
    lost = order("0.01")
    kraken.lose_next_ack("AddOrder")
    with pytest.raises(BrokerError):
        await broker.submit(lost)
    assert len(kraken.orders) == 1  # Kraken has it; we never heard back

    found = await broker.find_by_client_id(lost.client_order_id)
    assert found is not None
    assert found.broker_order_id in kraken.orders
    assert found.status is OrderStatus.FILLED
    assert found.filled_quantity == Decimal("0.01")
    assert len(kraken.calls("AddOrder")) == 1  # looked up, never sent again
    assert await broker.find_by_client_id("tc-never-sent") is None


async def test_unsupported_orders_are_rejected_before_kraken(
    broker: KrakenBroker, kraken: KrakenFake
) -> None:
    fok = await broker.submit(order("0.01", limit="39000.0", tif=TimeInForce.FOK))
    stop = Order.model_validate(
        order("0.01", limit="39000.0").model_dump()
        | {"order_type": OrderType.STOP_LIMIT, "stop_price": Decimal("39500")}
    )
    stopped = await broker.submit(stop)
    assert fok.order.status is stopped.order.status is OrderStatus.REJECTED
    assert kraken.calls("AddOrder") == []


async def test_an_ioc_limit_that_does_not_trade_is_cancelled_by_kraken(
    broker: KrakenBroker, kraken: KrakenFake
) -> None:
    report = await broker.submit(order("0.01", limit="39000.0", tif=TimeInForce.IOC))
    assert kraken.calls("AddOrder")[0]["timeinforce"] == "IOC"
    assert report.order.status is OrderStatus.CANCELLED
    assert report.fills == ()


async def test_wrong_keys_are_refused_by_the_signature_check(
    kraken: KrakenFake, clock: SimulatedClock
) -> None:
    other_secret = "b3RoZXIgc2VjcmV0IG9mIGEgZGlmZmVyZW50IGFjY291bnQsIDY0IGJ5dGVzIGxvbmchIQ=="
    broker = KrakenBroker(
        trading_exchange(API_KEY, other_secret, api_url=kraken.url, rate_limit_ms=FAST), clock
    )
    try:
        report = await broker.submit(order())
    finally:
        await broker.close()
    assert report.order.status is OrderStatus.REJECTED
    assert "Invalid key" in (report.order.status_reason or "")
    assert kraken.orders == {}


async def test_the_dead_man_s_switch_cancels_everything_when_not_refreshed(
    broker: KrakenBroker, kraken: KrakenFake
) -> None:
    resting = (await broker.submit(order("0.01", limit="39000.0"))).order
    trigger = await broker.arm_dead_man_switch(timedelta(seconds=1))
    (form,) = kraken.calls("CancelAllOrdersAfter")
    assert form["timeout"] == "1"
    assert trigger.tzinfo is not None
    await asyncio.sleep(1.2)  # this process "died": nobody refreshed the timer
    report = await broker.cancel(resting.order_id)  # any call lets the fake run its timer
    assert report.order.status is OrderStatus.CANCELLED
    assert kraken.orders[resting.broker_order_id or ""].status == "canceled"


async def test_cancel_everything_cancels_orders_this_process_does_not_know(
    broker: KrakenBroker, kraken: KrakenFake
) -> None:
    await broker.submit(order("0.01", limit="39000.0"))
    await broker.submit(order("0.01", limit="38000.0"))
    await broker.cancel_everything()
    assert {o.status for o in kraken.orders.values()} == {"canceled"}
