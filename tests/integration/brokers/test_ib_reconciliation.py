"""Reconciliation of an IB account against the books, through ib_async over TCP to the fake.

Each "process" here is an :class:`IbBroker` connected to the gateway fake, the shared trading
state, an order service on the ``ib`` account and a :class:`Reconciler` over them, on one SQLite
file. Closing it without cancelling anything and starting another is a restart (a crash, as far
as IB can tell), so what happens at IB in between must be found by the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from ib_async import IB

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.clock import SimulatedClock
from trading_core.adapters.metrics import Metrics
from trading_core.domain.base import ZERO
from trading_core.domain.market import Quote
from trading_core.domain.order import OrderStatus, OrderType, Side, TimeInForce
from trading_core.domain.portfolio import Portfolio
from trading_core.domain.signal import DecisionType
from trading_core.domain.state import TradingState
from trading_core.execution.ib_broker import IbBroker
from trading_core.execution.order_service import OrderService, OutcomeStatus
from trading_core.execution.quotes import QuoteBook
from trading_core.execution.reconciliation import Reconciler, ReconciliationFailed
from trading_core.execution.trading_state import STATE_KEY, TradingStateService
from trading_core.instruments import InstrumentRegistry
from trading_core.orchestrator.runner import read_risk_limits
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.store import Store
from trading_core.risk.pretrade import OrderRequest
from trading_core.settings import PACKAGED_CONFIG_DIR, ReconciliationSettings
from trading_core.storage.factory import open_store

from .ib_fake import ACCOUNT, IN_CANCEL_ORDER, IN_PLACE_ORDER, IbGatewayFake

IB_ACCOUNT = "ib"
SYMBOLS = ["GOOG", "EUR/USD"]
GOOG = "GOOG"
WAIT = 3.0


@dataclass
class Process:
    """One live process over the shared database."""

    broker: IbBroker
    store: Store
    ledger: PortfolioLedger
    state: TradingStateService
    orders: OrderService
    reconciler: Reconciler

    async def close(self) -> None:
        """Stop without cancelling anything (what IB sees of a crash)."""
        await self.broker.close()
        await self.store.close()


class Venue:
    """Starts processes on one database against one gateway fake."""

    def __init__(self, tmp_path: Path, gateway: IbGatewayFake, clock: SimulatedClock) -> None:
        self.db_url = f"sqlite:///{tmp_path / 'live.db'}"
        self.gateway = gateway
        self.clock = clock
        self.open: list[Process] = []

    async def start(self, *, client_id: int = 0, **reconciliation: object) -> Process:
        store = await open_store(self.db_url, clock=self.clock)
        await store.upgrade()
        broker = IbBroker(
            self.clock,
            ib=IB(),
            port=self.gateway.port,
            client_id=client_id,
            account=ACCOUNT,
            connect_attempts=1,
            connect_timeout=WAIT,
            ack_timeout=WAIT,
        )
        try:
            process = await self._assemble(broker, store, reconciliation)
        except BaseException:
            await broker.close()
            await store.close()
            raise
        self.open.append(process)
        return process

    async def _assemble(
        self, broker: IbBroker, store: Store, reconciliation: dict[str, object]
    ) -> Process:
        """As ``open_live_execution`` builds the live path, with IB as the venue."""
        await broker.connect()
        limits = read_risk_limits(PACKAGED_CONFIG_DIR / "risk_limits.toml")
        instruments = InstrumentRegistry.from_file(PACKAGED_CONFIG_DIR / "symbols.toml")
        state = await TradingStateService.load(
            store=store,
            bus=InMemoryBus(self.clock),
            clock=self.clock,
            gauge=Metrics(),
            key=STATE_KEY,
            breaker_limits=limits.breakers,
        )
        ledger = PortfolioLedger(Portfolio.start(Decimal(0)))
        positions = {p.symbol: p for p in await store.list_positions(account=IB_ACCOUNT)}
        ledger.open_book(cash=ZERO, positions=positions, marks={}, at=self.clock.now())
        ledger.mark_applied(f.fill_id for f in await store.list_fills(account=IB_ACCOUNT))
        orders = OrderService(
            broker=broker,
            store=store,
            clock=self.clock,
            instruments=instruments,
            ledger=ledger,
            quotes=QuoteBook(),
            state=state,
            risk_limits=limits,
            metrics=Metrics(),
            account=IB_ACCOUNT,
        )
        await orders.restore()
        reconciler = Reconciler(
            venue=broker,
            orders=orders,
            store=store,
            state=state,
            clock=self.clock,
            instruments=instruments,
            symbols=SYMBOLS,
            ledger=ledger,
            policy=ReconciliationSettings.model_validate(reconciliation),
            run_id="ib-reconcile-test",
        )
        await reconciler.at_start()
        return Process(broker, store, ledger, state, orders, reconciler)

    async def store(self) -> Store:
        store = await open_store(self.db_url, clock=self.clock)
        await store.upgrade()
        return store


@pytest.fixture
async def gateway() -> AsyncIterator[IbGatewayFake]:
    fake = IbGatewayFake()
    fake.positions["GOOG"] = Decimal("10")
    fake.cash.update({"USD": Decimal("100000"), "EUR": Decimal("5000")})
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def venue(
    tmp_path: Path, gateway: IbGatewayFake, clock: SimulatedClock
) -> AsyncIterator[Venue]:
    opened = Venue(tmp_path, gateway, clock)
    yield opened
    for process in opened.open:
        with contextlib.suppress(Exception):  # closed by the test already
            await process.close()


def goog_quote(clock: SimulatedClock) -> Quote:
    return Quote(
        symbol=GOOG,
        bid=Decimal("175.20"),
        ask=Decimal("175.30"),
        last=Decimal("175.25"),
        volume=Decimal(0),
        timestamp=clock.now(),
        source="test",
    )


def limit_buy(quantity: str, price: str, client_order_id: str) -> OrderRequest:
    return OrderRequest(
        symbol=GOOG,
        side=Side.BUY,
        quantity=Decimal(quantity),
        order_type=OrderType.LIMIT,
        limit_price=Decimal(price),
        time_in_force=TimeInForce.GTC,
        client_order_id=client_order_id,
        reason="reconciliation test",
    )


async def test_the_first_start_adopts_ib_s_positions_and_cash_as_the_opening_book(
    venue: Venue,
) -> None:
    process = await venue.start()

    report = process.reconciler.last
    assert report is not None
    assert report.passed, report
    portfolio = process.ledger.portfolio
    assert portfolio.cash == Decimal("100000")  # USD TotalCashBalance, not the BASE total
    goog = portfolio.position(GOOG)
    assert (goog.quantity, goog.average_price) == (Decimal("10"), Decimal("175.25"))
    eur = portfolio.position("EUR/USD")  # IB's EUR cash is the EUR/USD position
    assert (eur.quantity, eur.average_price) == (Decimal("5000"), Decimal("1.085"))
    assert portfolio.equity == Decimal("100000") + Decimal("1752.5") + Decimal("5425")
    stored = await process.store.list_positions(account=IB_ACCOUNT)
    assert sorted((p.symbol, p.quantity) for p in stored) == [
        ("EUR/USD", Decimal("5000")),
        (GOOG, Decimal("10")),
    ]
    (row,) = await process.store.list_decisions()
    assert row.decision_type is DecisionType.RECONCILIATION
    assert row.final_action == "reconciled"
    assert "adopted 10 GOOG as GOOG at 175.25" in row.reasoning
    assert process.state.state is TradingState.ACTIVE


async def test_an_order_placed_in_tws_is_cancelled_by_default(
    venue: Venue, gateway: IbGatewayFake
) -> None:
    await (await venue.start()).close()
    tws = gateway.place_in_tws("GOOG", "SELL", Decimal("5"), Decimal("180.00"))

    second = await venue.start()  # client 0: IB binds the TWS order to it

    report = second.reconciler.last
    assert report is not None
    assert report.passed, report
    assert report.cancelled == (f"order perm:{tws.perm_id}",)
    assert tws.status == "Cancelled"
    (cancel,) = gateway.calls(IN_CANCEL_ORDER)
    assert int(cancel[2]) < 0  # the order id IB bound the manual order to
    assert await second.store.list_orders(account=IB_ACCOUNT) == []


async def test_an_order_placed_in_tws_cannot_be_cancelled_by_another_client_so_the_start_fails(
    venue: Venue, gateway: IbGatewayFake
) -> None:
    await (await venue.start()).close()
    tws = gateway.place_in_tws("GOOG", "SELL", Decimal("5"), Decimal("180.00"))

    with pytest.raises(ReconciliationFailed, match="only client id 0 can cancel it"):
        await venue.start(client_id=7)

    assert tws.status == "Submitted"
    assert gateway.calls(IN_CANCEL_ORDER) == []


async def test_adopting_an_order_placed_in_tws_books_what_it_already_traded(
    venue: Venue, gateway: IbGatewayFake
) -> None:
    await (await venue.start()).close()
    tws = gateway.place_in_tws(
        "GOOG", "BUY", Decimal("20"), Decimal("170.00"), executed=Decimal("5")
    )
    assert gateway.positions["GOOG"] == Decimal("15")

    second = await venue.start(client_id=7, unknown_orders="adopt")

    report = second.reconciler.last
    assert report is not None
    assert report.passed, report  # 10 held + the 5 adopted agree with IB's 15
    assert report.adopted == (f"order perm:{tws.perm_id}",)
    assert tws.status == "Submitted"
    (adopted,) = second.orders.open_orders(GOOG)
    assert adopted.strategy_id == "external"
    assert adopted.broker_order_id == f"perm:{tws.perm_id}"
    assert (adopted.quantity, adopted.filled_quantity) == (Decimal("20"), Decimal("5"))
    (fill,) = await second.store.list_fills(account=IB_ACCOUNT)
    assert (fill.quantity, fill.price, fill.commission) == (
        Decimal("5"),
        Decimal("170"),
        Decimal("1"),
    )
    assert second.ledger.portfolio.position(GOOG).quantity == Decimal("15")


async def test_a_fill_while_the_process_was_down_is_booked_once_at_the_next_start(
    venue: Venue, gateway: IbGatewayFake, clock: SimulatedClock
) -> None:
    first = await venue.start()
    await first.orders.on_quote(goog_quote(clock))
    outcome = await first.orders.place(limit_buy("10", "175.00", "rest-1"))
    assert outcome.status is OutcomeStatus.ACCEPTED, outcome
    (at_ib,) = gateway.by_ref("rest-1")
    gateway.fill(at_ib.order_id, Decimal("4"), Decimal("175.00"))
    async with asyncio.timeout(WAIT):  # the running process books the first part
        while not await first.orders.on_quote(goog_quote(clock)):
            await first.broker.ib.updateEvent
    assert first.ledger.portfolio.position(GOOG).quantity == Decimal("14")
    await first.close()  # no cancel: the order keeps resting at IB

    gateway.fill(at_ib.order_id, Decimal("6"), Decimal("175.00"))  # while nobody watches
    second = await venue.start()

    report = second.reconciler.last
    assert report is not None
    assert report.passed, report
    assert report.settled == ("rest-1 partial->filled",)
    order = await second.store.get_order_by_client_id("rest-1")
    assert order is not None
    assert order.status is OrderStatus.FILLED
    fills = await second.store.list_fills(account=IB_ACCOUNT)
    assert [f.quantity for f in fills] == [Decimal("4"), Decimal("6")]
    assert [f.commission for f in fills] == [Decimal("1"), Decimal("1")]  # each its own
    assert second.ledger.portfolio.position(GOOG).quantity == Decimal("20")
    assert second.ledger.portfolio.cash == gateway.cash["USD"] == Decimal("98248")
    assert len(gateway.calls(IN_PLACE_ORDER)) == 1

    again = await second.reconciler.periodic()  # booked once: nothing more to settle
    assert again.passed, again
    assert again.settled == ()
    assert len(await second.store.list_fills(account=IB_ACCOUNT)) == 2


async def test_a_position_the_book_cannot_explain_refuses_the_start_and_reduces_trading(
    venue: Venue, gateway: IbGatewayFake
) -> None:
    await (await venue.start()).close()
    gateway.positions["GOOG"] = Decimal("25")  # moved at IB with no order of ours

    with pytest.raises(ReconciliationFailed) as refused:
        await venue.start()

    message = str(refused.value)
    assert "GOOG: ib holds 25, the book 10" in message
    assert "trading refused" in message
    store = await venue.store()
    try:
        state = await store.get_state(STATE_KEY)
        assert state is not None
        assert state["state"] == TradingState.REDUCING
        rows = await store.list_decisions()
        assert [r.decision_type for r in rows] == [
            DecisionType.RECONCILIATION,
            DecisionType.RECONCILIATION,
            DecisionType.STATE_CHANGE,
        ]
        assert rows[0].final_action == "reconciled"
        assert rows[1].final_action.startswith("mismatch")
        # The reduction it caused is a decision too, made by the reconciliation.
        assert rows[2].final_action == "ACTIVE -> REDUCING"
        assert rows[2].principal == "reconciliation"
    finally:
        await store.close()
