"""kill -9 of a paper-trading process: what it held dies with it, and the books stay whole.

A paper broker keeps its resting orders in memory, so they die with their process. Each paper
process holds a lease in the database (``Store.process_lease``); the next process to place an
order finds the dead one's orders and cancels them, saying why, instead of counting them
against the caps for ever. A process that is alive keeps its orders, counted by everyone.

The processes are real subprocesses (``paper_driver.py``) killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from trading_core.domain.fill import Fill
from trading_core.domain.order import Order, OrderStatus, OrderType, Side, TimeInForce
from trading_core.domain.position import Position
from trading_core.execution.order_service import ORPHAN_CANCELLED, OutcomeStatus
from trading_core.risk.pretrade import OrderRequest
from trading_core.services.container import TradingApp, open_app
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings

DRIVER = Path(__file__).with_name("paper_driver.py")
BTC = "BTC/USD"
START = datetime(2026, 1, 5, 12, 0, 30, tzinfo=UTC)


class Drivers:
    """Paper processes started by a test, all killed at its end."""

    def __init__(self) -> None:
        self.started: list[asyncio.subprocess.Process] = []

    async def start(self, db_url: str, cid: str, kind: str) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(DRIVER),
            db_url,
            cid,
            kind,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self.started.append(process)
        return process

    async def placed(self, process: asyncio.subprocess.Process) -> str:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        if not line:
            assert process.stderr is not None
            raise AssertionError((await process.stderr.read()).decode())
        return line.decode().strip()


@pytest.fixture
async def drivers() -> AsyncIterator[Drivers]:
    opened = Drivers()
    yield opened
    for process in opened.started:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def kill(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL


async def _this_process(db_url: str) -> TradingApp:
    settings = load_settings(config_dir=PACKAGED_CONFIG_DIR, db_url=db_url)
    return await open_app(settings, channel="mcp")


def small_buy(cid: str, ask: Decimal) -> OrderRequest:
    return OrderRequest(
        symbol=BTC,
        side=Side.BUY,
        quantity=(Decimal(500) / ask).quantize(Decimal("0.0001")),
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.IOC,
        client_order_id=cid,
    )


async def test_a_killed_processs_resting_order_is_cancelled_and_a_living_ones_still_counts(
    db_url: str, drivers: Drivers
) -> None:
    alive = await drivers.start(db_url, "alive-rest", "rest")
    assert await drivers.placed(alive) == "placed accepted"
    dead = await drivers.start(db_url, "dead-rest", "rest")
    assert await drivers.placed(dead) == "placed accepted"
    await kill(dead)

    app = await _this_process(db_url)
    try:
        quote = await app.feed.latest_quote(BTC)
        outcome = await app.orders.place(small_buy("after-the-kill", quote.ask))
        assert outcome.status is OutcomeStatus.FILLED, outcome.codes

        gone = await app.store.get_order_by_client_id("dead-rest")
        kept = await app.store.get_order_by_client_id("alive-rest")
        events = await app.store.list_events(event_type="orders.orphan_settled")
        counted = [o.client_order_id for o in app.orders.account_open_orders()]
    finally:
        await app.close()
    assert gone is not None
    assert gone.status is OrderStatus.CANCELLED
    assert gone.status_reason == "its paper broker stopped with its process"
    assert kept is not None
    assert kept.status is OrderStatus.SENT  # its process lives: its broker can still fill it
    assert counted == ["alive-rest"]
    assert [e.details["order_id"] for e in events] == [gone.order_id]


async def test_a_kill_while_a_fill_is_being_booked_leaves_nothing_half_written(
    drivers: Drivers, postgres_db_url: str
) -> None:
    # PostgreSQL only: a trigger holds the fill's INSERT, so the kill lands inside the booking
    # transaction (after the paper broker filled, before the ledger write committed).
    url = postgres_db_url
    app = await _this_process(url)  # the schema exists; this process watches
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            """
            CREATE FUNCTION hold_fill() RETURNS trigger AS $$
            BEGIN PERFORM pg_sleep(30); RETURN NEW; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER hold_fill BEFORE INSERT ON trading.trades
            FOR EACH ROW EXECUTE FUNCTION hold_fill();
            """
        )
        process = await drivers.start(url, "mid-booking", "market")
        for _ in range(600):  # until its INSERT is held by the trigger
            held = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event = 'PgSleep' AND query ILIKE '%trades%'"
            )
            if held:
                break
            await asyncio.sleep(0.1)
        assert held, "the fill's INSERT was never reached"
        await kill(process)
        # The server notices a dead client at its next read or write, which a backend
        # asleep in a trigger never does: end it as that notice would (a rollback).
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event = 'PgSleep'"
        )
        await connection.execute("DROP TRIGGER hold_fill ON trading.trades")
    finally:
        await connection.close()

    await app.refresh()  # as every tool call does: fresh quotes
    quote = await app.feed.latest_quote(BTC)
    after = await app.orders.place(small_buy("after-the-kill", quote.ask))
    assert after.status is OutcomeStatus.FILLED, after.codes
    orphan = await app.store.get_order_by_client_id("mid-booking")
    retried = await app.orders.place(small_buy("mid-booking", quote.ask))
    fills = await app.store.list_fills()
    await app.refresh()
    position = app.account.portfolio.position(BTC).quantity
    await app.close()
    assert orphan is not None
    assert orphan.status is OrderStatus.CANCELLED
    assert "before the outcome was booked" in (orphan.status_reason or "")
    assert retried.duplicate  # the same id is that order, never sent again
    assert [f.client_order_id for f in fills] == ["after-the-kill"]  # nothing half-booked
    assert after.order is not None
    assert position == after.order.filled_quantity


async def test_an_orphan_whose_fill_was_booked_before_the_kill_is_settled_as_filled(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'paper.db'}"
    app = await _this_process(url)
    try:
        now = app.clock.now()
        # What a process killed between booking a fill and saving the order's status leaves.
        order = Order(
            order_id="dead-1",
            client_order_id="dead-filled",
            symbol=BTC,
            side=Side.BUY,
            quantity=Decimal("0.01"),
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.IOC,
            broker="paper",
            created_at=now,
            updated_at=now,
        )
        await app.store.save_order(order)
        fill = Fill(
            fill_id="dead-1-f1",
            order_id="dead-1",
            client_order_id="dead-filled",
            symbol=BTC,
            side=Side.BUY,
            quantity=Decimal("0.01"),
            price=Decimal("40000"),
            commission=Decimal("0.4"),
            timestamp=now,
        )
        booked = Position(symbol=BTC, quantity=Decimal("0.01"), average_price=Decimal("40000"))
        assert await app.store.book_fill(fill, booked)

        await app.refresh()
        quote = await app.feed.latest_quote(BTC)
        after = await app.orders.place(small_buy("after-the-kill", quote.ask))
        assert after.status is OutcomeStatus.FILLED, after.codes
        settled = await app.store.get_order_by_client_id("dead-filled")
    finally:
        await app.close()
    assert settled is not None
    assert settled.status is OrderStatus.FILLED  # its booked fill stands
    assert settled.filled_quantity == Decimal("0.01")
    assert settled.average_fill_price == Decimal("40000")


async def test_an_order_another_process_settled_as_an_orphan_never_fills_here(
    tmp_path: Path,
) -> None:
    # As if this process's lease had been lost (a dropped database connection): another
    # process took it for dead and cancelled its resting order. That settlement must stand.
    app = await _this_process(f"sqlite:///{tmp_path / 'paper.db'}")
    try:
        quote = await app.feed.latest_quote(BTC)
        limit = (quote.bid * Decimal("0.99")).quantize(Decimal("0.1"))
        resting = await app.orders.place(
            OrderRequest(
                symbol=BTC,
                side=Side.BUY,
                quantity=Decimal("0.01"),
                order_type=OrderType.LIMIT,
                limit_price=limit,
                client_order_id="rests-here",
            )
        )
        assert resting.status is OutcomeStatus.ACCEPTED, resting.codes
        assert resting.order is not None
        await app.store.save_order(
            resting.order.transition(
                OrderStatus.CANCELLED, at=app.clock.now(), reason=ORPHAN_CANCELLED
            )
        )

        crossing = limit - Decimal("10")
        fills = await app.orders.on_quote(
            quote.model_copy(
                update={"bid": crossing - 1, "ask": crossing, "last": crossing, "volume": 10}
            )
        )
        stored = await app.store.get_order_by_client_id("rests-here")
        events = await app.store.list_events(event_type="orders.orphan_report_refused")
        held = app.account.portfolio.position(BTC).quantity
        open_here = app.orders.open_orders()
    finally:
        await app.close()
    assert fills == []
    assert held == 0
    assert stored is not None
    assert stored.status is OrderStatus.CANCELLED
    assert open_here == []
    assert len(events) == 1
