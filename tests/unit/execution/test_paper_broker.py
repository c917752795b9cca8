"""PaperBroker: fail-closed pricing, fills, partials, IOC/FOK, idempotency and determinism.

Unless a test says otherwise the broker has no slippage and charges 10 bps, so every price and
commission below is worked out by hand in the comments.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.errors import BrokerError, ConfigurationError, DuplicateOrderError
from trading_core.domain.fill import Fill
from trading_core.domain.market import Quote
from trading_core.domain.order import Order, OrderStatus, OrderType, Side, TimeInForce
from trading_core.execution.paper_broker import SLIPPAGE_STEPS, PaperBroker
from trading_core.execution.paper_config import PaperBrokerConfig
from trading_core.ports.broker import Broker

BUY, SELL = Side.BUY, Side.SELL
BrokerFactory = Callable[..., PaperBroker]
QuoteFactory = Callable[..., Quote]
OrderFactory = Callable[..., Order]


def _slipped(base: Decimal, side: Side, slippage_bps: Decimal, draw: int) -> Decimal:
    """The documented slippage rule, computed independently of the broker."""
    fraction = slippage_bps * draw / SLIPPAGE_STEPS / 10_000
    return base * (1 + fraction) if side is BUY else base * (1 - fraction)


# -- the port -------------------------------------------------------------------------------


def test_paper_broker_satisfies_the_broker_port(make_broker: BrokerFactory) -> None:
    broker: Broker = make_broker(name="paper-test")

    assert broker.name == "paper-test"


# -- fail closed ----------------------------------------------------------------------------


async def test_order_without_any_quote_is_rejected_with_a_reason(
    make_broker: BrokerFactory, make_order: OrderFactory
) -> None:
    broker = make_broker()

    report = await broker.submit(make_order(BUY, "10"))

    assert report.order.status is OrderStatus.REJECTED
    assert report.order.status_reason is not None
    assert "no quote for XYZ" in report.order.status_reason
    assert report.fills == ()
    assert report.order.broker_order_id is None
    assert await broker.open_orders() == []


async def test_quote_in_another_symbol_does_not_price_the_order(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100", symbol="ABC"))

    report = await broker.submit(make_order(BUY, "1"))

    assert report.order.status is OrderStatus.REJECTED


@pytest.mark.parametrize("order_type", [OrderType.STOP, OrderType.STOP_LIMIT])
async def test_stop_orders_are_rejected_not_guessed(
    make_broker: BrokerFactory,
    make_order: OrderFactory,
    make_quote: QuoteFactory,
    order_type: OrderType,
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99.5", "100.5"))

    order = make_order(SELL, "1", limit="95", order_type=order_type, stop_price=Decimal(96))
    report = await broker.submit(order)

    assert report.order.status is OrderStatus.REJECTED
    assert report.order.status_reason is not None
    assert "market and limit" in report.order.status_reason


# -- market orders --------------------------------------------------------------------------


async def test_market_buy_fills_at_the_ask_with_commission(
    make_broker: BrokerFactory,
    make_order: OrderFactory,
    make_quote: QuoteFactory,
    clock: SimulatedClock,
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99.5", "100.5"))
    clock.advance(timedelta(seconds=3))

    report = await broker.submit(make_order(BUY, "10"))

    order, (fill,) = report.order, report.fills
    assert order.status is OrderStatus.FILLED
    assert order.filled_quantity == Decimal(10)
    assert order.average_fill_price == Decimal("100.5")
    assert order.broker_order_id == "paper-000001"
    assert order.updated_at == clock.now()
    assert fill.fill_id == "ord-1-F1"
    assert (fill.quantity, fill.price) == (Decimal(10), Decimal("100.5"))
    # 10 x 100.5 = 1005 notional x 10 bps = 1.005
    assert fill.commission == Decimal("1.005")
    assert fill.timestamp == clock.now()
    assert fill.liquidity == "taker"
    assert (fill.client_order_id, fill.strategy_id, fill.side) == ("cli-1", "test-strategy", BUY)


async def test_market_sell_fills_at_the_bid(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99.5", "100.5"))

    (fill,) = (await broker.submit(make_order(SELL, "4"))).fills

    # 4 x 99.5 = 398 x 10 bps = 0.398
    assert fill.price == Decimal("99.5")
    assert fill.commission == Decimal("0.398")


async def test_slippage_is_the_seeded_draw_against_the_trader(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker(seed=42, slippage_bps=Decimal(2))
    await broker.on_quote(make_quote("99.5", "100.5"))
    draws = random.Random(42)

    buy = (await broker.submit(make_order(BUY, "1"))).fills[0]
    sell = (await broker.submit(make_order(SELL, "1"))).fills[0]

    first, second = draws.randint(0, SLIPPAGE_STEPS), draws.randint(0, SLIPPAGE_STEPS)
    assert buy.price == _slipped(Decimal("100.5"), BUY, Decimal(2), first)
    assert sell.price == _slipped(Decimal("99.5"), SELL, Decimal(2), second)
    assert buy.price > Decimal("100.5")
    assert sell.price < Decimal("99.5")


@pytest.mark.parametrize("seed", range(12))
async def test_slippage_stays_within_the_configured_bound(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory, seed: int
) -> None:
    broker = make_broker(seed=seed, slippage_bps=Decimal(2))
    await broker.on_quote(make_quote("99.5", "100.5"))

    buy = (await broker.submit(make_order(BUY, "1"))).fills[0]
    sell = (await broker.submit(make_order(SELL, "1"))).fills[0]

    # 2 bps of 100.5 is 0.0201; of 99.5 it is 0.0199
    assert Decimal("100.5") <= buy.price <= Decimal("100.5201")
    assert Decimal("99.4801") <= sell.price <= Decimal("99.5")


# -- limit orders ---------------------------------------------------------------------------


async def test_marketable_limit_buy_fills_at_the_better_ask(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99.5", "100.5"))

    report = await broker.submit(make_order(BUY, "2", limit="101"))

    assert report.order.status is OrderStatus.FILLED
    assert report.fills[0].price == Decimal("100.5")
    assert report.fills[0].liquidity == "taker"


async def test_marketable_limit_sell_fills_at_the_better_bid(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99.5", "100.5"))

    report = await broker.submit(make_order(SELL, "2", limit="99"))

    assert report.fills[0].price == Decimal("99.5")


@pytest.mark.parametrize("seed", range(20))
async def test_slippage_never_pushes_a_limit_buy_past_its_limit(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory, seed: int
) -> None:
    # 500 bps of slippage on an ask of 100.5 could reach 105.525; the limit 100.6 caps it.
    broker = make_broker(seed=seed, slippage_bps=Decimal(500))
    await broker.on_quote(make_quote("99.5", "100.5"))
    draw = random.Random(seed).randint(0, SLIPPAGE_STEPS)

    (fill,) = (await broker.submit(make_order(BUY, "1", limit="100.6"))).fills

    expected = min(Decimal("100.6"), _slipped(Decimal("100.5"), BUY, Decimal(500), draw))
    assert fill.price == expected
    assert fill.price <= Decimal("100.6")


@pytest.mark.parametrize("seed", range(20))
async def test_slippage_never_pushes_a_limit_sell_below_its_limit(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory, seed: int
) -> None:
    broker = make_broker(seed=seed, slippage_bps=Decimal(500))
    await broker.on_quote(make_quote("99.5", "100.5"))

    (fill,) = (await broker.submit(make_order(SELL, "1", limit="99.4"))).fills

    assert Decimal("99.4") <= fill.price <= Decimal("99.5")


async def test_non_marketable_limit_rests_then_fills_at_its_limit_when_crossed(
    make_broker: BrokerFactory,
    make_order: OrderFactory,
    make_quote: QuoteFactory,
    clock: SimulatedClock,
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99.5", "100.5"))

    resting = await broker.submit(make_order(BUY, "10", limit="100"))

    assert resting.order.status is OrderStatus.SENT
    assert resting.order.broker_order_id == "paper-000001"
    assert resting.fills == ()
    assert [o.order_id for o in await broker.open_orders()] == ["ord-1"]

    clock.advance(timedelta(minutes=1))
    assert await broker.on_quote(make_quote("99.6", "100.1")) == []  # ask still above 100

    clock.advance(timedelta(minutes=1))
    (report,) = await broker.on_quote(make_quote("99.4", "99.8"))

    # the resting bid is hit at its own price: 10 x 100 = 1000 x 10 bps = 1
    (fill,) = report.fills
    assert report.order.status is OrderStatus.FILLED
    assert (fill.price, fill.commission, fill.liquidity) == (Decimal(100), Decimal(1), "maker")
    assert fill.timestamp == clock.now()
    assert await broker.open_orders() == []


async def test_resting_limit_sell_fills_when_the_bid_reaches_it(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99.5", "100.5"))
    await broker.submit(make_order(SELL, "3", limit="101"))

    (report,) = await broker.on_quote(make_quote("101", "101.2"))

    assert report.order.status is OrderStatus.FILLED
    assert report.fills[0].price == Decimal(101)


async def test_resting_limit_orders_get_no_slippage(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker(slippage_bps=Decimal(50))
    await broker.on_quote(make_quote("99.5", "100.5"))
    await broker.submit(make_order(BUY, "1", limit="99"))

    (report,) = await broker.on_quote(make_quote("98.0", "98.5"))

    assert report.fills[0].price == Decimal(99)


# -- partial fills and participation --------------------------------------------------------


async def test_participation_cap_splits_a_market_order_across_quotes(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100", volume="20"))

    first = await broker.submit(make_order(BUY, "12"))
    # 25 % of 20 = 5
    assert first.order.status is OrderStatus.PARTIAL
    assert first.fills[0].quantity == Decimal(5)
    assert [o.order_id for o in await broker.open_orders()] == ["ord-1"]

    (second,) = await broker.on_quote(make_quote("100", "101", volume="20"))
    assert second.order.status is OrderStatus.PARTIAL
    assert second.order.filled_quantity == Decimal(10)

    (third,) = await broker.on_quote(make_quote("101", "102", volume="8"))
    # 25 % of 8 = 2 finishes it; average (5 x 100 + 5 x 101 + 2 x 102) / 12 = 1209 / 12
    assert third.order.status is OrderStatus.FILLED
    assert third.fills[0].quantity == Decimal(2)
    assert third.order.average_fill_price == Decimal("100.75")
    assert [f.fill_id for r in (first, second, third) for f in r.fills] == [
        "ord-1-F1",
        "ord-1-F2",
        "ord-1-F3",
    ]
    assert await broker.open_orders() == []


async def test_orders_share_one_quotes_liquidity_in_time_priority(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100", volume="40"))

    # 25 % of 40 = 10 for both orders together
    first = await broker.submit(make_order(BUY, "6"))
    second = await broker.submit(make_order(SELL, "6"))

    assert first.order.status is OrderStatus.FILLED
    assert second.order.status is OrderStatus.PARTIAL
    assert second.fills[0].quantity == Decimal(4)

    (report,) = await broker.on_quote(make_quote("99", "100", volume="40"))
    assert report.order.order_id == "ord-2"
    assert report.fills[0].quantity == Decimal(2)
    assert report.order.status is OrderStatus.FILLED


async def test_exhausted_quote_leaves_a_market_order_working(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100", volume="4"))
    await broker.submit(make_order(BUY, "1"))  # uses the whole cap of 1

    report = await broker.submit(make_order(BUY, "1"))

    assert report.order.status is OrderStatus.SENT
    assert report.fills == ()


async def test_zero_volume_means_unknown_and_allows_the_full_quantity(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100", volume="0"))

    report = await broker.submit(make_order(BUY, "1000000"))

    assert report.order.status is OrderStatus.FILLED
    assert report.fills[0].quantity == Decimal(1_000_000)


async def test_participation_applies_to_resting_limit_orders_too(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker(max_participation=Decimal("0.5"))
    await broker.on_quote(make_quote("99", "100"))
    await broker.submit(make_order(BUY, "10", limit="98"))

    (report,) = await broker.on_quote(make_quote("97", "97.5", volume="6"))

    # 50 % of 6 = 3 at the limit 98
    assert report.order.status is OrderStatus.PARTIAL
    assert (report.fills[0].quantity, report.fills[0].price) == (Decimal(3), Decimal(98))


# -- IOC / FOK ------------------------------------------------------------------------------


async def test_ioc_fills_what_it_can_and_cancels_the_rest(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100", volume="20"))

    report = await broker.submit(make_order(BUY, "12", tif=TimeInForce.IOC))

    assert report.order.status is OrderStatus.CANCELLED
    assert report.order.filled_quantity == Decimal(5)
    assert report.fills[0].quantity == Decimal(5)
    assert report.order.status_reason == "IOC: unfilled 7 cancelled"
    assert await broker.open_orders() == []
    assert await broker.on_quote(make_quote("99", "100", volume="20")) == []


async def test_ioc_limit_that_is_not_marketable_is_cancelled_unfilled(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100"))

    report = await broker.submit(make_order(BUY, "1", limit="99.5", tif=TimeInForce.IOC))

    assert report.order.status is OrderStatus.CANCELLED
    assert report.fills == ()


async def test_fok_without_enough_liquidity_is_cancelled_with_nothing_filled(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100", volume="20"))

    report = await broker.submit(make_order(BUY, "12", tif=TimeInForce.FOK))

    assert report.order.status is OrderStatus.CANCELLED
    assert report.order.filled_quantity == Decimal(0)
    assert report.fills == ()
    assert report.order.status_reason == "FOK: only 5 of 12 executable"


async def test_fok_within_liquidity_fills_in_full(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100", volume="20"))

    report = await broker.submit(make_order(BUY, "5", tif=TimeInForce.FOK))

    assert report.order.status is OrderStatus.FILLED
    assert report.fills[0].quantity == Decimal(5)


async def test_fok_limit_that_is_not_marketable_is_cancelled(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100"))

    report = await broker.submit(make_order(SELL, "1", limit="99.5", tif=TimeInForce.FOK))

    assert report.order.status is OrderStatus.CANCELLED
    assert report.order.status_reason == "FOK: limit not marketable against the quote"


# -- commission -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("1", Decimal(5)),  # 100 x 10 bps = 0.10 -> the 5 floor
        ("10", Decimal(5)),  # 1000 x 10 bps = 1 -> the 5 floor
        ("80", Decimal(8)),  # 8000 x 10 bps = 8 > 5
    ],
)
async def test_commission_is_bps_of_notional_with_a_floor(
    make_broker: BrokerFactory,
    make_order: OrderFactory,
    make_quote: QuoteFactory,
    quantity: str,
    expected: Decimal,
) -> None:
    broker = make_broker(min_commission=Decimal(5))
    await broker.on_quote(make_quote("99", "100"))

    (fill,) = (await broker.submit(make_order(BUY, quantity))).fills

    assert fill.commission == expected


async def test_floor_applies_to_each_partial_fill(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker(min_commission=Decimal(1), commission_bps=Decimal(20))
    await broker.on_quote(make_quote("99", "100", volume="4"))
    first = await broker.submit(make_order(BUY, "2"))
    (second,) = await broker.on_quote(make_quote("99", "100", volume="4"))

    # each fill is 1 x 100 = 100 x 20 bps = 0.2, floored to 1
    assert [f.commission for f in first.fills + second.fills] == [Decimal(1), Decimal(1)]


# -- idempotency and identity ---------------------------------------------------------------


async def test_same_client_order_id_twice_returns_the_first_order_and_fills_once(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100"))
    first = await broker.submit(make_order(BUY, "10", client_order_id="dup"))

    again = await broker.submit(make_order(BUY, "99", client_order_id="dup"))

    assert again.order == first.order
    assert again.fills == ()
    assert again.order.quantity == Decimal(10)
    assert broker.get_order("ord-2") is None
    assert await broker.open_orders() == []


async def test_resubmitting_a_working_order_reports_its_current_state(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100", volume="8"))
    order = make_order(BUY, "5")
    await broker.submit(order)  # 2 of 5
    await broker.on_quote(make_quote("99", "100", volume="8"))  # 4 of 5

    again = await broker.submit(order)

    assert again.order.status is OrderStatus.PARTIAL
    assert again.order.filled_quantity == Decimal(4)
    assert again.fills == ()
    assert len(await broker.open_orders()) == 1


async def test_rejected_client_order_id_stays_rejected(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    order = make_order(BUY, "1")
    await broker.submit(order)
    await broker.on_quote(make_quote("99", "100"))

    again = await broker.submit(order)

    assert again.order.status is OrderStatus.REJECTED
    assert again.fills == ()


async def test_reusing_an_order_id_under_another_client_id_is_refused(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100"))
    await broker.submit(make_order(BUY, "1", order_id="same"))

    with pytest.raises(DuplicateOrderError, match="already submitted"):
        await broker.submit(make_order(BUY, "1", order_id="same"))


async def test_only_pending_orders_can_be_submitted(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100"))
    order = make_order(BUY, "1")
    sent = order.transition(OrderStatus.SENT, at=order.created_at)

    with pytest.raises(BrokerError, match="only pending orders"):
        await broker.submit(sent)


async def test_find_by_client_id_returns_the_current_order_or_none(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100"))
    await broker.submit(make_order(BUY, "1", limit="98"))
    await broker.on_quote(make_quote("97", "98"))

    found = await broker.find_by_client_id("cli-1")

    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert await broker.find_by_client_id("never-sent") is None


async def test_broker_order_ids_count_accepted_orders(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker(name="sim")
    rejected = await broker.submit(make_order(BUY, "1"))
    await broker.on_quote(make_quote("99", "100"))

    first = await broker.submit(make_order(BUY, "1"))
    second = await broker.submit(make_order(BUY, "1", limit="90"))

    assert rejected.order.broker_order_id is None
    assert first.order.broker_order_id == "sim-000001"
    assert second.order.broker_order_id == "sim-000002"


# -- cancel ---------------------------------------------------------------------------------


async def test_cancel_stops_a_resting_order_from_filling(
    make_broker: BrokerFactory,
    make_order: OrderFactory,
    make_quote: QuoteFactory,
    clock: SimulatedClock,
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100"))
    await broker.submit(make_order(BUY, "1", limit="98"))
    clock.advance(timedelta(seconds=5))

    report = await broker.cancel("ord-1")

    assert report.order.status is OrderStatus.CANCELLED
    assert report.order.status_reason == "cancelled on request"
    assert report.order.updated_at == clock.now()
    assert await broker.open_orders() == []
    assert await broker.on_quote(make_quote("97", "97.5")) == []


async def test_cancel_of_a_partial_order_keeps_what_was_filled(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100", volume="4"))
    await broker.submit(make_order(BUY, "3"))

    report = await broker.cancel("ord-1")

    assert report.order.status is OrderStatus.CANCELLED
    assert report.order.filled_quantity == Decimal(1)


async def test_cancel_of_a_terminal_order_returns_it_unchanged(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100"))
    filled = (await broker.submit(make_order(BUY, "1"))).order

    report = await broker.cancel("ord-1")

    assert report.order == filled
    assert report.order.status is OrderStatus.FILLED
    assert report.fills == ()


async def test_cancel_of_an_unknown_order_is_a_clear_error(make_broker: BrokerFactory) -> None:
    broker = make_broker()

    with pytest.raises(BrokerError, match="no such order") as caught:
        await broker.cancel("ghost")

    assert caught.value.code == "ORDER_NOT_FOUND"


# -- quotes, time and expiry ----------------------------------------------------------------


async def test_quotes_only_work_orders_in_their_own_symbol(
    make_broker: BrokerFactory, make_order: OrderFactory, make_quote: QuoteFactory
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100"))
    await broker.submit(make_order(BUY, "1", limit="98"))

    assert await broker.on_quote(make_quote("50", "51", symbol="ABC")) == []
    assert len(await broker.open_orders()) == 1


async def test_an_out_of_order_quote_is_ignored(
    make_broker: BrokerFactory,
    make_order: OrderFactory,
    make_quote: QuoteFactory,
    clock: SimulatedClock,
) -> None:
    broker = make_broker()
    stale = make_quote("96", "97")
    clock.advance(timedelta(seconds=1))
    await broker.on_quote(make_quote("99", "100"))
    await broker.submit(make_order(BUY, "1", limit="98"))

    assert await broker.on_quote(stale) == []
    assert (await broker.open_orders())[0].status is OrderStatus.SENT


async def test_day_order_expires_on_the_first_quote_of_the_next_utc_day(
    make_broker: BrokerFactory,
    make_order: OrderFactory,
    make_quote: QuoteFactory,
    clock: SimulatedClock,
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100"))
    await broker.submit(make_order(BUY, "1", limit="98", tif=TimeInForce.DAY))
    await broker.submit(make_order(BUY, "1", limit="97"))  # GTC

    clock.set(datetime(2024, 3, 1, 23, 59, tzinfo=clock.now().tzinfo))
    assert await broker.on_quote(make_quote("99", "100")) == []

    clock.set(datetime(2024, 3, 2, 0, 0, tzinfo=clock.now().tzinfo))
    (report,) = await broker.on_quote(make_quote("99", "100"))

    assert report.order.order_id == "ord-1"
    assert report.order.status is OrderStatus.EXPIRED
    assert [o.order_id for o in await broker.open_orders()] == ["ord-2"]


async def test_timestamps_come_from_the_clock_not_the_quote(
    make_broker: BrokerFactory,
    make_order: OrderFactory,
    make_quote: QuoteFactory,
    clock: SimulatedClock,
) -> None:
    broker = make_broker()
    await broker.on_quote(make_quote("99", "100"))
    await broker.submit(make_order(BUY, "1", limit="98"))
    quote_time = clock.now()
    clock.advance(timedelta(hours=2))

    (report,) = await broker.on_quote(make_quote("97", "98", timestamp=quote_time))

    assert report.fills[0].timestamp == clock.now()
    assert report.order.updated_at == clock.now()


async def test_a_naive_clock_is_refused(make_order: OrderFactory, make_quote: QuoteFactory) -> None:
    class NaiveClock:
        def now(self) -> datetime:
            return datetime(2024, 3, 1, 12, 0)

    broker = PaperBroker(NaiveClock())

    with pytest.raises(BrokerError, match="naive"):
        await broker.on_quote(make_quote("99", "100"))


# -- determinism ----------------------------------------------------------------------------


async def _scenario(broker: PaperBroker, clock: SimulatedClock) -> tuple[list[Fill], list[Order]]:
    """A fixed mix of quotes and orders; returns every fill and the final orders."""

    def quote(bid: str, ask: str, volume: str) -> Quote:
        clock.advance(timedelta(seconds=1))
        return Quote(
            symbol="XYZ",
            bid=Decimal(bid),
            ask=Decimal(ask),
            last=Decimal(bid),
            volume=Decimal(volume),
            timestamp=clock.now(),
            source="test",
        )

    def order(n: int, side: Side, quantity: str, limit: str | None = None) -> Order:
        fields: dict[str, Any] = {}
        if limit is not None:
            fields = {"order_type": OrderType.LIMIT, "limit_price": Decimal(limit)}
        else:
            fields = {"order_type": OrderType.MARKET}
        return Order(
            order_id=f"o{n}",
            client_order_id=f"c{n}",
            symbol="XYZ",
            side=side,
            quantity=Decimal(quantity),
            created_at=clock.now(),
            updated_at=clock.now(),
            **fields,
        )

    fills: list[Fill] = []
    await broker.on_quote(quote("99.5", "100.5", "40"))
    fills += (await broker.submit(order(1, BUY, "25"))).fills
    fills += (await broker.submit(order(2, SELL, "3", limit="99"))).fills
    for bid, ask in [("99.7", "100.2"), ("100.1", "100.9"), ("98.8", "99.6")]:
        for report in await broker.on_quote(quote(bid, ask, "40")):
            fills += report.fills
    fills += (await broker.submit(order(3, SELL, "7"))).fills
    return fills, [o for o in (broker.get_order(f"o{n}") for n in (1, 2, 3)) if o is not None]


async def test_same_seed_same_quotes_same_orders_give_identical_fills() -> None:
    start = datetime.fromisoformat("2024-03-01T14:30:00+00:00")
    runs = []
    for _ in range(2):
        clock = SimulatedClock(start)
        runs.append(await _scenario(PaperBroker(clock, seed=7), clock))

    (fills_a, orders_a), (fills_b, orders_b) = runs
    assert len(fills_a) >= 4
    assert fills_a == fills_b
    assert orders_a == orders_b


async def test_a_different_seed_changes_the_slippage() -> None:
    start = datetime.fromisoformat("2024-03-01T14:30:00+00:00")
    clock_a, clock_b = SimulatedClock(start), SimulatedClock(start)

    fills_a, _ = await _scenario(PaperBroker(clock_a, seed=7), clock_a)
    fills_b, _ = await _scenario(PaperBroker(clock_b, seed=8), clock_b)

    assert [f.quantity for f in fills_a] == [f.quantity for f in fills_b]
    assert [f.price for f in fills_a] != [f.price for f in fills_b]


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "complaint"),
    [
        ("slippage_bps", Decimal(-1), "must not be negative"),
        ("slippage_bps", Decimal(10_000), "below 10000"),
        ("commission_bps", Decimal("-0.5"), "must not be negative"),
        ("min_commission", Decimal(-1), "must not be negative"),
        ("max_participation", Decimal(0), "greater than zero"),
        ("max_participation", Decimal("1.5"), "at most 1"),
        ("name", "", "at least 1 character"),
    ],
)
def test_invalid_settings_raise_a_configuration_error(
    clock: SimulatedClock, setting: str, value: object, complaint: str
) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        PaperBroker(clock, **{setting: value})  # type: ignore[arg-type]


def test_defaults_match_the_documented_ones(clock: SimulatedClock) -> None:
    broker = PaperBroker(clock)

    assert broker.config == PaperBrokerConfig(
        seed=0,
        slippage_bps=Decimal(2),
        commission_bps=Decimal(10),
        min_commission=Decimal(0),
        max_participation=Decimal("0.25"),
        name="paper",
    )


def test_from_config_builds_the_same_broker(clock: SimulatedClock) -> None:
    config = PaperBrokerConfig(seed=3, slippage_bps=Decimal(1), name="paper-eu")

    broker = PaperBroker.from_config(clock, config)

    assert broker.config == config
    assert broker.name == "paper-eu"


# -- invariants under random flow -----------------------------------------------------------

_quote_step = st.tuples(
    st.just("quote"),
    st.integers(min_value=9_000, max_value=11_000),  # bid in cents
    st.integers(min_value=0, max_value=50),  # spread in cents
    st.sampled_from([0, 4, 10, 40]),  # volume
)
_order_step = st.tuples(
    st.just("order"),
    st.sampled_from([BUY, SELL]),
    st.integers(min_value=1, max_value=12),  # quantity
    st.one_of(st.none(), st.integers(min_value=-100, max_value=100)),  # limit offset, cents
    st.sampled_from(list(TimeInForce)),
)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.one_of(_quote_step, _order_step), min_size=1, max_size=30))
def test_random_flow_keeps_every_fill_within_its_limits(steps: list[tuple[Any, ...]]) -> None:
    clock = SimulatedClock(datetime.fromisoformat("2024-03-01T14:30:00+00:00"))
    broker = PaperBroker(clock, seed=11, slippage_bps=Decimal(5))
    cent = Decimal("0.01")
    fills: list[Fill] = []
    orders: list[Order] = []
    window: list[Fill] = []  # fills since the latest quote
    last: Quote | None = None

    def check_window() -> None:
        if last is not None and last.volume > 0:
            assert sum(f.quantity for f in window) <= last.volume * Decimal("0.25")

    async def run() -> None:
        nonlocal last, window
        for n, step in enumerate(steps):
            clock.advance(timedelta(seconds=1))
            if step[0] == "quote":
                _, bid, spread, volume = step
                check_window()
                last = Quote(
                    symbol="XYZ",
                    bid=bid * cent,
                    ask=(bid + spread) * cent,
                    last=bid * cent,
                    volume=Decimal(volume),
                    timestamp=clock.now(),
                    source="test",
                )
                window = [f for r in await broker.on_quote(last) for f in r.fills]
                fills.extend(window)
                continue
            _, side, quantity, offset, tif = step
            reference = 10_000 if last is None else int(last.mid / cent)
            order = Order(
                order_id=f"o{n}",
                client_order_id=f"c{n}",
                symbol="XYZ",
                side=side,
                quantity=Decimal(quantity),
                order_type=OrderType.MARKET if offset is None else OrderType.LIMIT,
                limit_price=None if offset is None else (reference + offset) * cent,
                time_in_force=tif,
                created_at=clock.now(),
                updated_at=clock.now(),
            )
            orders.append(order)
            report = await broker.submit(order)
            window.extend(report.fills)
            fills.extend(report.fills)
            if last is not None and report.fills and report.fills[0].liquidity == "taker":
                price = report.fills[0].price
                if side is BUY:
                    assert last.ask <= price <= last.ask * Decimal("1.0005")
                else:
                    assert last.bid * Decimal("0.9995") <= price <= last.bid
        check_window()

    asyncio.run(run())

    assert len({f.fill_id for f in fills}) == len(fills)
    for fill in fills:
        assert fill.commission == fill.quantity * fill.price * Decimal("0.001")
    for submitted in orders:
        final = broker.get_order(submitted.order_id)
        assert final is not None
        own = [f for f in fills if f.order_id == submitted.order_id]
        assert sum((f.quantity for f in own), start=Decimal(0)) == final.filled_quantity
        assert (final.status is OrderStatus.FILLED) == (final.filled_quantity == final.quantity)
        if submitted.limit_price is not None:
            for f in own:
                if submitted.side is BUY:
                    assert f.price <= submitted.limit_price
                else:
                    assert f.price >= submitted.limit_price
        if submitted.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            assert final.status.is_terminal
        if submitted.time_in_force is TimeInForce.FOK:
            assert final.filled_quantity in (Decimal(0), final.quantity)
