"""IbBroker through a real ib_async.IB over TCP against the local IB Gateway fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from uuid import uuid4

import pytest
from ib_async import IB

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.errors import BrokerError, OrderNotFoundError
from trading_core.domain.market import Quote
from trading_core.domain.order import Order, OrderStatus, OrderType, Side, TimeInForce
from trading_core.execution.ib_broker import IbBroker, Increments
from trading_core.ports.broker import BrokerReport

from .conftest import T0
from .ib_fake import (
    ACCOUNT,
    IN_ALL_OPEN_ORDERS,
    IN_CONTRACT_DETAILS,
    IN_GLOBAL_CANCEL,
    IN_MARKET_DATA,
    IN_PLACE_ORDER,
    ORDER_REJECTED,
    SERVER_VERSION,
    IbGatewayFake,
)

BACKOFF = 0.5
WAIT = 3.0
"""Upper bound of every wait on the socket in these tests."""


class Watchdog:
    """What the trading state would hear: connection lost / restored, and each backoff asked."""

    def __init__(self, gateway: IbGatewayFake) -> None:
        self.gateway = gateway
        self.lost: list[str] = []
        self.restored = asyncio.Event()
        self.delays: list[float] = []
        self.up_after: int | None = None
        """Bring the gateway back up at this backoff (1-based); None: leave it as it is."""

    async def on_lost(self, reason: str) -> None:
        self.lost.append(reason)

    async def on_restored(self) -> None:
        self.restored.set()

    async def sleep(self, delay: float) -> None:
        """Stands in for asyncio.sleep: records the backoff, never waits for it."""
        self.delays.append(delay)
        if self.up_after == len(self.delays):
            await self.gateway.come_up()
        await asyncio.sleep(0)


@pytest.fixture
async def gateway() -> AsyncIterator[IbGatewayFake]:
    fake = IbGatewayFake()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def watchdog(gateway: IbGatewayFake) -> Watchdog:
    return Watchdog(gateway)


def make_broker(gateway: IbGatewayFake, clock: SimulatedClock, watchdog: Watchdog) -> IbBroker:
    return IbBroker(
        clock,
        ib=IB(),
        port=gateway.port,
        client_id=7,
        account=ACCOUNT,
        on_connection_lost=watchdog.on_lost,
        on_connection_restored=watchdog.on_restored,
        connect_attempts=4,
        backoff=BACKOFF,
        connect_timeout=WAIT,
        ack_timeout=WAIT,
        sleep=watchdog.sleep,
    )


@pytest.fixture
async def broker(
    gateway: IbGatewayFake, clock: SimulatedClock, watchdog: Watchdog
) -> AsyncIterator[IbBroker]:
    opened = make_broker(gateway, clock, watchdog)
    await opened.connect()
    yield opened
    await opened.close()


def order(
    quantity: str = "100",
    *,
    symbol: str = "GOOG",
    side: Side = Side.BUY,
    limit: str | None = None,
    tif: TimeInForce = TimeInForce.DAY,
) -> Order:
    return Order(
        order_id=uuid4().hex,
        client_order_id=f"tc-{uuid4().hex[:20]}",
        symbol=symbol,
        side=side,
        quantity=Decimal(quantity),
        order_type=OrderType.LIMIT if limit else OrderType.MARKET,
        limit_price=Decimal(limit) if limit else None,
        time_in_force=tif,
        broker="ib",
        created_at=T0,
        updated_at=T0,
    )


def quote(clock: SimulatedClock) -> Quote:
    return Quote(
        symbol="GOOG",
        bid=Decimal("175.20"),
        ask=Decimal("175.30"),
        last=Decimal("175.25"),
        volume=Decimal(0),
        timestamp=clock.now(),
        source="test",
    )


async def streamed(broker: IbBroker, clock: SimulatedClock) -> Sequence[BrokerReport]:
    """The broker's next non-empty report, waiting on ib_async's updates (bounded)."""
    async with asyncio.timeout(WAIT):
        while True:
            reports = await broker.on_quote(quote(clock))
            if reports:
                return reports
            await broker.ib.updateEvent


async def until(broker: IbBroker, done: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not done():
            await broker.ib.updateEvent


def placed(gateway: IbGatewayFake, sent: Order) -> int:
    """The IB order id of ``sent`` at the gateway (found by its orderRef)."""
    (at_ib,) = gateway.by_ref(sent.client_order_id)
    return at_ib.order_id


async def test_connect_negotiates_server_version_178_and_reads_ib_s_increments(
    broker: IbBroker, gateway: IbGatewayFake
) -> None:
    assert gateway.handshakes == ["v157..178"]
    assert broker.ib.client.serverVersion() == SERVER_VERSION
    assert broker.ib.managedAccounts() == [ACCOUNT]

    assert await broker.increments("GOOG") == Increments(
        Decimal("0.01"), Decimal("1"), Decimal("1")
    )
    fx = await broker.increments("EUR/USD")
    assert fx.tick_size == Decimal("0.00005")
    stock, pair = gateway.calls(IN_CONTRACT_DETAILS)
    assert (stock[4], stock[5], stock[10], stock[12]) == ("GOOG", "STK", "SMART", "USD")
    assert (pair[4], pair[5], pair[10], pair[12]) == ("EUR", "CASH", "IDEALPRO", "USD")
    await broker.increments("GOOG")  # cached: IB is asked once per symbol
    assert len(gateway.calls(IN_CONTRACT_DETAILS)) == 2


async def test_a_market_order_fills_with_ib_s_commission_and_carries_the_client_id(
    broker: IbBroker, gateway: IbGatewayFake
) -> None:
    sent = order("400")
    report = await broker.submit(sent)

    assert report.order.status is OrderStatus.FILLED
    assert report.order.broker_order_id == str(placed(gateway, sent))
    (fill,) = report.fills
    assert fill.quantity == Decimal("400")
    assert fill.price == Decimal("175.25")
    assert fill.commission == Decimal("2")  # 400 x USD 0.005, from IB's commissionReport
    assert fill.liquidity == "taker"
    assert fill.fill_id.startswith("ib:0000e0d5.")
    (fields,) = gateway.calls(IN_PLACE_ORDER)
    # placeOrder as client.py writes it: action 16, totalQuantity 17, orderType 18, tif 21,
    # account 23, orderRef 26.
    assert fields[16:19] == ["BUY", "400.0", "MKT"]
    assert fields[21] == "DAY"
    assert fields[23] == ACCOUNT
    assert fields[26] == sent.client_order_id


async def test_a_resting_limit_reports_each_partial_fill_once_then_fills(
    broker: IbBroker, gateway: IbGatewayFake, clock: SimulatedClock
) -> None:
    sent = order("300", limit="170.00", tif=TimeInForce.GTC)
    report = await broker.submit(sent)
    resting = report.order
    assert resting.status is OrderStatus.SENT
    assert report.fills == ()
    assert [o.order_id for o in await broker.open_orders()] == [resting.order_id]
    ib_id = placed(gateway, sent)
    assert gateway.calls(IN_PLACE_ORDER)[0][19] == "170.0"  # lmtPrice

    gateway.fill(ib_id, Decimal("100"), Decimal("170.00"))
    first = await streamed(broker, clock)
    assert await broker.on_quote(quote(clock)) == []  # nothing new: nothing reported twice
    ((partial,),) = [r.fills for r in first]
    assert partial.quantity == Decimal("100")
    assert partial.price == Decimal("170")
    assert partial.commission == Decimal("1")  # IB's minimum per order execution
    assert partial.liquidity == "maker"
    assert first[-1].order.status is OrderStatus.PARTIAL

    gateway.fill(ib_id, Decimal("200"), Decimal("169.99"))
    (last,) = await streamed(broker, clock)
    (second,) = last.fills
    assert second.quantity == Decimal("200")
    assert second.price == Decimal("169.99")  # the float's shortest repr: exact
    assert second.fill_id != partial.fill_id
    assert last.order.status is OrderStatus.FILLED
    assert last.order.filled_quantity == Decimal("300")
    assert await broker.open_orders() == []


async def test_cancel_cancels_a_resting_order_at_ib(
    broker: IbBroker, gateway: IbGatewayFake
) -> None:
    sent = order("10", limit="150.00")
    resting = (await broker.submit(sent)).order

    cancelled = await broker.cancel(resting.order_id)

    assert cancelled.order.status is OrderStatus.CANCELLED
    assert gateway.orders[placed(gateway, sent)].status == "Cancelled"
    with pytest.raises(OrderNotFoundError):
        await broker.cancel("no-such-order")


async def test_an_ioc_limit_that_cannot_trade_is_cancelled_by_ib(
    broker: IbBroker, gateway: IbGatewayFake
) -> None:
    report = await broker.submit(order("10", limit="150.00", tif=TimeInForce.IOC))

    assert gateway.calls(IN_PLACE_ORDER)[0][21] == "IOC"
    assert report.order.status is OrderStatus.CANCELLED
    assert report.fills == ()


async def test_ib_s_refusal_is_a_rejection_with_ib_s_code_and_message(
    broker: IbBroker, gateway: IbGatewayFake
) -> None:
    gateway.refuse_next_order(ORDER_REJECTED, "Order rejected - reason:Insufficient buying power")
    report = await broker.submit(order("100000"))

    assert report.order.status is OrderStatus.REJECTED
    assert report.order.status_reason is not None
    assert "201" in report.order.status_reason
    assert "Insufficient buying power" in report.order.status_reason
    assert gateway.orders == {}


async def test_a_symbol_ib_does_not_know_is_rejected_with_no_security_definition(
    broker: IbBroker, gateway: IbGatewayFake
) -> None:
    report = await broker.submit(order(symbol="NOPE"))

    assert report.order.status is OrderStatus.REJECTED
    assert "200" in (report.order.status_reason or "")
    assert "No security definition" in (report.order.status_reason or "")
    assert gateway.calls(IN_PLACE_ORDER) == []


async def test_unsupported_orders_are_rejected_before_ib(
    broker: IbBroker, gateway: IbGatewayFake
) -> None:
    fok = await broker.submit(order(limit="170.00", tif=TimeInForce.FOK))
    stop = Order.model_validate(
        order(limit="170.00").model_dump()
        | {"order_type": OrderType.STOP_LIMIT, "stop_price": Decimal("171")}
    )
    stopped = await broker.submit(stop)

    assert fok.order.status is stopped.order.status is OrderStatus.REJECTED
    assert gateway.calls(IN_PLACE_ORDER) == []


@pytest.mark.parametrize(
    ("limit", "found_status"), [(None, OrderStatus.FILLED), ("170.00", OrderStatus.SENT)]
)
async def test_a_drop_right_after_place_order_is_found_after_reconnecting_never_resent(
    broker: IbBroker,
    gateway: IbGatewayFake,
    watchdog: Watchdog,
    clock: SimulatedClock,
    limit: str | None,
    found_status: OrderStatus,
) -> None:
    lost = order("50", limit=limit)
    gateway.drop_on_next_place_order(stay_down=True)
    watchdog.up_after = 3  # refused twice, then the gateway listens again

    with pytest.raises(BrokerError, match="state is unknown"):
        await broker.submit(lost)
    with pytest.raises(BrokerError, match="not connected"):  # fails closed, never queued
        await broker.submit(order("1"))

    await asyncio.wait_for(watchdog.restored.wait(), WAIT)
    assert len(watchdog.lost) == 1
    assert watchdog.delays == [BACKOFF, BACKOFF * 2, BACKOFF * 4]
    assert broker.connected
    assert len(gateway.handshakes) == 2

    found = await broker.find_by_client_id(lost.client_order_id)
    assert found is not None
    assert found.order_id == lost.order_id
    assert found.status is found_status
    assert found.broker_order_id == str(placed(gateway, lost))
    assert len(gateway.calls(IN_PLACE_ORDER)) == 1  # looked up, never sent again
    assert await broker.find_by_client_id("tc-never-sent") is None

    if limit is not None:  # the order is followed again on the new connection
        gateway.fill(placed(gateway, lost), Decimal("50"), Decimal("170.00"))
        (report,) = await streamed(broker, clock)
        assert report.order.status is OrderStatus.FILLED
        assert [f.commission for f in report.fills] == [Decimal("1")]
    else:
        assert found.filled_quantity == Decimal("50")
        assert found.average_fill_price == Decimal("175.25")


async def test_an_order_from_before_a_restart_is_found_by_a_new_broker(
    broker: IbBroker, gateway: IbGatewayFake, clock: SimulatedClock, watchdog: Watchdog
) -> None:
    filled = order("20")
    resting = order("30", limit="160.00")
    await broker.submit(filled)
    await broker.submit(resting)
    await broker.close()

    restarted = make_broker(gateway, clock, watchdog)
    await restarted.connect()
    try:
        traded = await restarted.find_by_client_id(filled.client_order_id)
        working = await restarted.find_by_client_id(resting.client_order_id)
    finally:
        await restarted.close()

    assert traded is not None
    assert working is not None
    assert traded.status is OrderStatus.FILLED
    assert traded.filled_quantity == Decimal("20")
    assert working.status is OrderStatus.SENT
    assert working.limit_price == Decimal("160")
    assert working.broker_order_id == str(placed(gateway, resting))


async def test_cancel_everything_sends_req_global_cancel(
    broker: IbBroker, gateway: IbGatewayFake, clock: SimulatedClock
) -> None:
    await broker.submit(order("10", limit="150.00"))
    await broker.submit(order("10", limit="140.00"))

    await broker.cancel_everything()
    await until(broker, lambda: all(t.isDone() for t in broker.ib.trades()))
    reports = await broker.on_quote(quote(clock))

    assert len(gateway.calls(IN_GLOBAL_CANCEL)) == 1
    assert {o.status for o in gateway.orders.values()} == {"Cancelled"}
    assert [r.order.status for r in reports] == [OrderStatus.CANCELLED] * 2
    assert await broker.open_orders() == []


async def test_connect_retries_with_backoff_until_the_gateway_listens(
    gateway: IbGatewayFake, clock: SimulatedClock, watchdog: Watchdog
) -> None:
    await gateway.go_down()
    watchdog.up_after = 2
    broker = make_broker(gateway, clock, watchdog)
    try:
        await broker.connect()
        assert broker.connected
    finally:
        await broker.close()
    assert watchdog.delays == [BACKOFF, BACKOFF * 2]
    assert watchdog.lost == []  # a first connection is not a drop


async def test_connect_gives_up_after_the_bounded_attempts_and_nothing_is_sent(
    gateway: IbGatewayFake, clock: SimulatedClock, watchdog: Watchdog
) -> None:
    await gateway.go_down()
    broker = make_broker(gateway, clock, watchdog)
    with pytest.raises(BrokerError, match="after 4 attempts"):
        await broker.connect()
    assert len(watchdog.delays) == 3
    with pytest.raises(BrokerError, match="not connected"):
        await broker.submit(order())
    await broker.close()


async def test_the_account_as_ib_reports_it_for_reconciliation(
    gateway: IbGatewayFake, clock: SimulatedClock, watchdog: Watchdog
) -> None:
    gateway.positions["GOOG"] = Decimal("10")
    gateway.cash.update({"USD": Decimal("100000.5"), "EUR": Decimal("5000")})
    broker = make_broker(gateway, clock, watchdog)
    await broker.connect()
    try:
        ours = order("3", limit="160.00", tif=TimeInForce.GTC)
        await broker.submit(ours)
        tws = gateway.place_in_tws("GOOG", "SELL", Decimal("5"), Decimal("180.00"))

        # Stocks by symbol, cash per currency; the BASE total is not a holding.
        assert await broker.balances() == {
            "GOOG": Decimal("10"),
            "USD": Decimal("100000.5"),
            "EUR": Decimal("5000"),
        }
        assert await broker.last_price("GOOG") == Decimal("175.25")
        assert await broker.last_price("EUR/USD") == Decimal("1.085")  # bid/ask mid
        snapshots = gateway.calls(IN_MARKET_DATA)
        assert [fields[17] for fields in snapshots] == ["1", "1"]  # snapshot=True

        listed = {o.venue_client_id: o for o in await broker.venue_open_orders()}
        assert len(gateway.calls(IN_ALL_OPEN_ORDERS)) == 1
    finally:
        await broker.close()

    assert broker.venue_client_id(ours.client_order_id) == ours.client_order_id
    assert set(listed) == {ours.client_order_id, None}
    mine, theirs = listed[ours.client_order_id], listed[None]
    assert mine.broker_order_id == f"perm:{gateway.by_ref(ours.client_order_id)[0].perm_id}"
    assert (mine.side, mine.quantity, mine.limit_price) == (Side.BUY, Decimal("3"), Decimal("160"))
    assert theirs.broker_order_id == f"perm:{tws.perm_id}"
    assert (theirs.symbol, theirs.side, theirs.quantity, theirs.limit_price) == (
        "GOOG",
        Side.SELL,
        Decimal("5"),
        Decimal("180"),
    )
    assert theirs.filled_quantity == Decimal(0)
