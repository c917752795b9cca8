"""Reconciliation of a Kraken account against the books, over real HTTP to the local fake.

Each "process" here is the real live assembly (:func:`open_live_execution`) on one SQLite file:
closing it without cancelling anything and opening another is a restart (a crash, as far as the
venue can tell), so what happens in between at the venue must be found by the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.clock import SimulatedClock
from trading_core.adapters.metrics import Metrics
from trading_core.domain.market import Quote
from trading_core.domain.order import Order, OrderStatus, OrderType, Side
from trading_core.domain.portfolio import Portfolio
from trading_core.domain.signal import DecisionType
from trading_core.domain.state import TradingState
from trading_core.execution.kraken_broker import KRAKEN_ACCOUNT
from trading_core.execution.live_assembly import LiveExecution, open_live_execution
from trading_core.execution.order_service import OutcomeStatus
from trading_core.execution.reconciliation import ReconciliationFailed
from trading_core.execution.trading_state import STATE_KEY
from trading_core.instruments import InstrumentRegistry
from trading_core.orchestrator.live_upkeep import LiveUpkeep
from trading_core.orchestrator.runner import read_risk_limits
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.store import Store
from trading_core.risk.pretrade import OrderRequest
from trading_core.risk.states import TRADING_REDUCING_ONLY
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings
from trading_core.storage.factory import open_store

from .conftest import FAST
from .kraken_fake import API_KEY, API_SECRET, KrakenFake

SYMBOLS = ["BTC/USD", "ETH/USD"]
BTC = "BTC/USD"


@dataclass
class Process:
    """One live process's execution over the shared database."""

    execution: LiveExecution
    ledger: PortfolioLedger
    store: Store

    async def close(self) -> None:
        """Stop without cancelling anything (what the venue sees of a crash)."""
        await self.execution.broker.close()
        await self.store.close()


class Venue:
    """Starts processes on one database against one Kraken fake."""

    def __init__(self, tmp_path: Path, kraken: KrakenFake, clock: SimulatedClock) -> None:
        self.db_url = f"sqlite:///{tmp_path / 'live.db'}"
        self.kraken = kraken
        self.clock = clock
        self.open: list[Process] = []

    def settings(self, **reconciliation: object) -> Settings:
        return Settings(
            mode="live",
            source="kraken",
            kraken={
                "api_url": self.kraken.url,
                "api_key": API_KEY,
                "api_secret": API_SECRET,
                "rate_limit_ms": FAST,
            },
            reconciliation=reconciliation,
        )

    async def start(self, **reconciliation: object) -> Process:
        store = await open_store(self.db_url, clock=self.clock)
        await store.upgrade()
        ledger = PortfolioLedger(Portfolio.start(Decimal(0)))
        limits = read_risk_limits(PACKAGED_CONFIG_DIR / "risk_limits.toml")
        try:
            execution = await open_live_execution(
                self.settings(**reconciliation),
                store=store,
                bus=InMemoryBus(self.clock),
                clock=self.clock,
                instruments=InstrumentRegistry.from_file(PACKAGED_CONFIG_DIR / "symbols.toml"),
                symbols=SYMBOLS,
                ledger=ledger,
                risk_limits=limits,
                metrics=Metrics(),
                run_id="reconcile-test",
            )
        except BaseException:
            await store.close()
            raise
        process = Process(execution, ledger, store)
        self.open.append(process)
        return process

    async def store(self) -> Store:
        store = await open_store(self.db_url, clock=self.clock)
        await store.upgrade()
        return store


@pytest.fixture
async def venue(tmp_path: Path, kraken: KrakenFake, clock: SimulatedClock) -> AsyncIterator[Venue]:
    opened = Venue(tmp_path, kraken, clock)
    yield opened
    for process in opened.open:
        with contextlib.suppress(Exception):  # closed by the test already
            await process.close()


async def quote(process: Process, clock: SimulatedClock, last: str = "40000.0") -> None:
    price = Decimal(last)
    await process.execution.orders.on_quote(
        Quote(
            symbol=BTC,
            bid=price - Decimal("0.1"),
            ask=price + Decimal("0.1"),
            last=price,
            volume=Decimal(0),
            timestamp=clock.now(),
            source="test",
        )
    )


def limit_buy(quantity: str, price: str, client_order_id: str) -> OrderRequest:
    return OrderRequest(
        symbol=BTC,
        side=Side.BUY,
        quantity=Decimal(quantity),
        order_type=OrderType.LIMIT,
        limit_price=Decimal(price),
        client_order_id=client_order_id,
        reason="reconciliation test",
    )


async def test_the_first_start_adopts_the_venues_balances_as_the_opening_book(
    venue: Venue, kraken: KrakenFake
) -> None:
    kraken.balances.update({"ZUSD": Decimal("100000"), "XXBT": Decimal("0.5")})
    process = await venue.start()
    report = process.execution.reconciler.last
    assert report is not None
    assert report.passed, report
    portfolio = process.ledger.portfolio
    assert portfolio.cash == Decimal("100000")
    assert portfolio.position(BTC).quantity == Decimal("0.5")
    assert portfolio.position(BTC).average_price == Decimal("40000")  # the venue's last price
    assert portfolio.equity == Decimal("120000")
    assert portfolio.high_water_mark == Decimal("120000")  # breakers measure from here
    stored = await process.store.list_positions(account=KRAKEN_ACCOUNT)
    assert [(p.symbol, p.quantity) for p in stored] == [(BTC, Decimal("0.5"))]
    (row,) = await process.store.list_decisions()
    assert row.decision_type is DecisionType.RECONCILIATION
    assert row.final_action == "reconciled"
    assert "adopted 0.5" in row.reasoning
    assert process.execution.state.state is TradingState.ACTIVE


async def test_a_fill_while_the_process_was_down_is_booked_once_at_the_next_start(
    venue: Venue, kraken: KrakenFake, clock: SimulatedClock
) -> None:
    first = await venue.start()
    await quote(first, clock)
    outcome = await first.execution.orders.place(limit_buy("0.02", "39000", "rest-1"))
    assert outcome.status is OutcomeStatus.ACCEPTED, outcome
    assert outcome.order is not None
    assert outcome.order.broker_order_id is not None
    txid = outcome.order.broker_order_id
    kraken.execute(txid, Decimal("0.01"), Decimal("39000"))
    clock.advance(timedelta(seconds=5))
    await quote(first, clock)  # polled: the first half is booked by the running process
    assert first.ledger.portfolio.position(BTC).quantity == Decimal("0.01")
    await first.close()  # no cancel: the order keeps resting at Kraken

    kraken.execute(txid, Decimal("0.01"), Decimal("39000"))  # the rest, while nobody watches
    clock.advance(timedelta(minutes=3))
    second = await venue.start()

    report = second.execution.reconciler.last
    assert report is not None
    assert report.passed, report
    assert report.settled == ("rest-1 partial->filled",)
    order = await second.store.get_order_by_client_id("rest-1")
    assert order is not None
    assert order.status is OrderStatus.FILLED
    fills = await second.store.list_fills(account=KRAKEN_ACCOUNT)
    assert [f.quantity for f in fills] == [Decimal("0.01"), Decimal("0.01")]
    # Kraken's fee is a running total per order: the two fills add up to it, not more.
    assert sum(f.commission for f in fills) == kraken.orders[txid].fee
    assert second.ledger.portfolio.position(BTC).quantity == Decimal("0.02")
    assert second.ledger.portfolio.cash == kraken.balances["ZUSD"].quantize(Decimal("0.0001"))
    assert len(kraken.calls("AddOrder")) == 1


async def test_an_order_saved_but_never_sent_is_closed_and_one_whose_answer_was_lost_is_found(
    venue: Venue, kraken: KrakenFake, clock: SimulatedClock
) -> None:
    first = await venue.start()
    await quote(first, clock)
    kraken.lose_next_ack("AddOrder")
    lost = await first.execution.orders.place(limit_buy("0.01", "41000", "lost-ack"))
    assert lost.status is OutcomeStatus.UNKNOWN  # it traded at Kraken; the answer never came
    never_sent = Order(
        order_id="crashed-before-submit",
        client_order_id="never-sent",
        symbol=BTC,
        side=Side.BUY,
        quantity=Decimal("0.01"),
        limit_price=Decimal("39000"),
        broker="kraken",
        account=KRAKEN_ACCOUNT,
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    await first.store.save_order(never_sent)  # PENDING: the process died before submit
    await first.close()

    second = await venue.start()
    report = second.execution.reconciler.last
    assert report is not None
    assert report.passed, report
    found = await second.store.get_order_by_client_id("lost-ack")
    assert found is not None
    assert found.status is OrderStatus.FILLED
    closed = await second.store.get_order_by_client_id("never-sent")
    assert closed is not None
    assert closed.status is OrderStatus.REJECTED
    assert "never reached kraken" in (closed.status_reason or "")
    assert len(kraken.calls("AddOrder")) == 1  # nothing was sent again
    assert second.ledger.portfolio.position(BTC).quantity == Decimal("0.01")


async def test_an_order_placed_on_krakens_site_is_cancelled_by_default(
    venue: Venue, kraken: KrakenFake
) -> None:
    await (await venue.start()).close()
    txid = kraken.place_external("XXBTZUSD", "sell", Decimal("0.1"), Decimal("45000"))
    second = await venue.start()
    report = second.execution.reconciler.last
    assert report is not None
    assert report.passed
    assert report.cancelled == (f"order {txid}",)
    assert kraken.orders[txid].status == "canceled"
    assert await second.store.list_orders(account=KRAKEN_ACCOUNT) == []


async def test_adopting_an_outside_order_books_what_it_already_traded(
    venue: Venue, kraken: KrakenFake
) -> None:
    await (await venue.start()).close()
    txid = kraken.place_external(
        "XXBTZUSD", "buy", Decimal("0.2"), Decimal("40000"), executed=Decimal("0.05")
    )
    second = await venue.start(unknown_orders="adopt")
    report = second.execution.reconciler.last
    assert report is not None
    assert report.passed, report
    assert report.adopted == (f"order {txid}",)
    assert kraken.orders[txid].status == "open"
    adopted = second.execution.orders.open_orders(BTC)
    assert [(o.strategy_id, o.filled_quantity) for o in adopted] == [("external", Decimal("0.05"))]
    # The executed part is in the book, so the venue's balance and the position agree.
    assert second.ledger.portfolio.position(BTC).quantity == Decimal("0.05")


async def test_a_balance_the_book_cannot_explain_refuses_the_start_and_reduces_trading(
    venue: Venue, kraken: KrakenFake
) -> None:
    await (await venue.start()).close()
    kraken.balances["XXBT"] = Decimal("0.3")  # moved at Kraken with no order of ours
    with pytest.raises(ReconciliationFailed) as refused:
        await venue.start()
    message = str(refused.value)
    assert "BTC: kraken holds 0.3" in message
    assert "the book 0" in message
    assert "trading refused" in message
    store = await venue.store()
    try:
        state = await store.get_state(STATE_KEY)
        assert state is not None
        assert state["state"] == TradingState.REDUCING
        rows = await store.list_decisions()
        mismatch, reduced = rows[-2:]
        assert mismatch.decision_type is DecisionType.RECONCILIATION
        assert mismatch.final_action.startswith("mismatch")
        assert reduced.decision_type is DecisionType.STATE_CHANGE
        assert (reduced.final_action, reduced.principal) == ("ACTIVE -> REDUCING", "reconciliation")
        events = await store.list_events()
        assert any(e.event_type == "reconciliation.mismatch" for e in events)
    finally:
        await store.close()


async def test_a_periodic_mismatch_leaves_only_closing_orders(
    venue: Venue, kraken: KrakenFake, clock: SimulatedClock
) -> None:
    kraken.balances["XXBT"] = Decimal("0.5")
    process = await venue.start()
    await quote(process, clock)
    kraken.balances["ZUSD"] -= Decimal("500")  # a withdrawal: the ledger cannot explain it
    report = await process.execution.reconciler.periodic()
    assert not report.passed
    assert report.mismatches == ("USD cash: kraken holds 99500.0000, the ledger 100000.0000",)
    assert process.execution.state.state is TradingState.REDUCING
    opening = await process.execution.orders.place(limit_buy("0.01", "39000", "after-mismatch"))
    assert opening.status is OutcomeStatus.REJECTED
    assert TRADING_REDUCING_ONLY in opening.codes
    closing = await process.execution.orders.place(
        OrderRequest(
            symbol=BTC,
            side=Side.SELL,
            quantity=Decimal("0.1"),
            order_type=OrderType.MARKET,
            client_order_id="reduce-after-mismatch",
            reason="reconciliation test",
        )
    )
    assert closing.status is OutcomeStatus.FILLED, closing


async def test_a_venue_out_of_reach_reduces_trading_after_repeated_misses(
    venue: Venue, kraken: KrakenFake
) -> None:
    process = await venue.start(failures_before_reducing=2)
    reconciler = process.execution.reconciler
    kraken.fail_next("OpenOrders", "EService:Unavailable")
    missed = await reconciler.periodic()
    assert missed.error is not None
    assert "unavailable" in missed.error.lower()
    assert process.execution.state.state is TradingState.ACTIVE  # one miss is a blip
    kraken.fail_next("OpenOrders", "EService:Unavailable")
    await reconciler.periodic()
    assert process.execution.state.state is TradingState.REDUCING


async def test_a_start_that_cannot_reach_kraken_is_refused_without_trading(
    venue: Venue, kraken: KrakenFake
) -> None:
    kraken.fail_next("OpenOrders", "EService:Unavailable")
    with pytest.raises(ReconciliationFailed, match="not reconciled"):
        await venue.start()
    assert kraken.calls("AddOrder") == []


async def test_the_schedule_reconciles_while_no_bar_arrives_and_daily(
    venue: Venue, kraken: KrakenFake, clock: SimulatedClock
) -> None:
    process = await venue.start()
    upkeep = LiveUpkeep(
        dead_man_switch=None,
        reconciler=process.execution.reconciler,
        orders=process.execution.orders,
        state=process.execution.state,
        clock=clock,
        interval=timedelta(seconds=0.2),
        dead_man=timedelta(seconds=60),
        state_poll=timedelta(seconds=60),
    )
    assert await upkeep.reconcile_if_due() is None  # the start-up pass has just run
    await upkeep.start()
    try:
        kraken.balances["ZUSD"] -= Decimal("500")  # the books now disagree; no bar comes
        clock.advance(timedelta(seconds=1))
        for _ in range(100):
            if process.execution.state.state is TradingState.REDUCING:
                break
            await asyncio.sleep(0.05)
        assert process.execution.state.state is TradingState.REDUCING
    finally:
        await upkeep.stop()
    clock.advance(timedelta(days=1))
    daily = await upkeep.reconcile_if_due()
    assert daily is not None
    assert daily.trigger == "daily"
    rows = await process.store.list_decisions()
    triggers = [
        r.risk_check["trigger"] for r in rows if r.decision_type is DecisionType.RECONCILIATION
    ]
    assert triggers[0] == "start"
    assert "periodic" in triggers
    assert triggers[-1] == "daily"
