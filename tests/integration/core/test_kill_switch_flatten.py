"""The kill switch's flatten (policy "all"): every position closed through the order service.

Real parts throughout: a SQLite store, the paper broker (no slippage, so a marketable order fills
at the touch), the trading-state service and a simulated clock. The flatten may skip only the
trading-state gate; every other control still runs, and a refused flatten leaves the position.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import pytest

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.fill import Fill
from trading_core.domain.instrument import AssetClass, Instrument
from trading_core.domain.market import Quote
from trading_core.domain.order import (
    PAPER_ACCOUNT,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from trading_core.domain.portfolio import Portfolio
from trading_core.domain.state import Severity, SystemEvent, TradingState
from trading_core.execution.order_service import (
    FLATTEN_REASON,
    OrderOutcome,
    OrderService,
    OutcomeStatus,
)
from trading_core.execution.paper_broker import PaperBroker
from trading_core.execution.quotes import QuoteBook
from trading_core.execution.trading_state import TradingStateService
from trading_core.instruments import InstrumentRegistry
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.store import Store
from trading_core.risk.pretrade import OrderRequest, RiskLimits
from trading_core.risk.states import StateRecord
from trading_core.services.account import Account
from trading_core.storage.factory import open_store

from .conftest import T0

pytestmark = pytest.mark.integration

LONG, SHORT = "TEST/USD", "OTHER/USD"
TICK = Decimal("0.01")
CASH = Decimal(100_000)
REPO = Path(__file__).resolve().parents[3]


def instrument(symbol: str) -> Instrument:
    return Instrument(
        symbol=symbol,
        broker="paper",
        asset_class=AssetClass.CRYPTO,
        currency="USD",
        tick_size=TICK,
        lot_size=Decimal("0.001"),
        min_quantity=Decimal("0.001"),
        max_quantity=Decimal("1000"),
    )


INSTRUMENTS = InstrumentRegistry([instrument(LONG), instrument(SHORT)])


def quote(symbol: str, clock: SimulatedClock, mid: str = "100") -> Quote:
    m = Decimal(mid)
    return Quote(
        symbol=symbol,
        bid=m - Decimal("0.05"),
        ask=m + Decimal("0.05"),
        last=m,
        volume=Decimal(0),  # volume unknown: no participation cap
        timestamp=clock.now(),
        source="test",
    )


@dataclass
class Desk:
    """One process's view of the account: its own ledger, broker, quote book and state."""

    clock: SimulatedClock
    store: Store
    bus: InMemoryBus
    broker: PaperBroker
    ledger: PortfolioLedger
    state: TradingStateService
    orders: OrderService

    def position(self, symbol: str) -> Decimal:
        return self.ledger.portfolio.position(symbol).quantity

    async def quote_all(self) -> None:
        for symbol in (LONG, SHORT):
            await self.orders.on_quote(quote(symbol, self.clock))

    async def kill(self, reason: str = "runaway loop") -> None:
        await self.state.activate_kill_switch(reason=reason, by="operator")


def build(
    store: Store,
    *,
    flatten: bool,
    clock: SimulatedClock | None = None,
    ledger: PortfolioLedger | None = None,
    account: Account | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Desk:
    clock = clock or SimulatedClock(T0)
    bus = InMemoryBus(clock)
    broker = PaperBroker(clock, seed=7, slippage_bps=Decimal(0))
    ledger = account.ledger if account else ledger or PortfolioLedger(Portfolio.start(CASH))
    state = TradingStateService(StateRecord.initial(clock.now()), store=store, bus=bus, clock=clock)
    orders = OrderService(
        broker=broker,
        store=store,
        clock=clock,
        instruments=INSTRUMENTS,
        ledger=ledger,
        quotes=QuoteBook(),
        state=state,
        sleep=sleep,
    )
    orders.wire_kill_switch(flatten=flatten, prepare=(account.sync,) if account else ())
    return Desk(clock, store, bus, broker, ledger, state, orders)


async def buy(desk: Desk, qty: str, cid: str = "entry") -> OrderOutcome:
    """A marketable limit buy at the ask: a long position the ordinary way."""
    outcome = await desk.orders.place(
        OrderRequest(
            symbol=LONG,
            side=Side.BUY,
            quantity=Decimal(qty),
            limit_price=quote(LONG, desk.clock).ask,
            time_in_force=TimeInForce.IOC,
            client_order_id=cid,
            strategy_id="s1",
        )
    )
    assert outcome.status is OutcomeStatus.FILLED, outcome
    return outcome


def adopt(desk: Desk, symbol: str, side: Side, qty: str, price: str = "100") -> None:
    """A position this cash account cannot open itself (a short; one above the order cap),
    as if adopted from the broker's records: applied to the real ledger."""
    fill = Fill(
        fill_id=f"adopted-{symbol}-{side}-{qty}",
        order_id="adopted",
        client_order_id="adopted",
        symbol=symbol,
        side=side,
        quantity=Decimal(qty),
        price=Decimal(price),
        timestamp=desk.clock.now(),
    )
    assert desk.ledger.apply_fill(fill)


async def rest_a_sell(desk: Desk) -> OrderOutcome:
    """A sell above the market that rests in the book (the kill switch must cancel it)."""
    request = OrderRequest(
        symbol=LONG,
        side=Side.SELL,
        quantity=Decimal(10),
        limit_price=Decimal("101.00"),
        client_order_id="resting",
    )
    return await desk.orders.place(request)


async def flatten_orders(store: Store) -> list[Order]:
    return [o for o in await store.list_orders() if o.reason == FLATTEN_REASON]


async def events(store: Store, event_type: str) -> list[SystemEvent]:
    return await store.list_events(event_type=event_type)


def collar_edge(mid: Decimal, side: Side) -> Decimal:
    """Where a marketable flatten is priced: the collar edge of the mid, rounded passively."""
    collar = RiskLimits().collar_pct(AssetClass.CRYPTO) / 100
    if side is Side.SELL:
        return (mid * (1 - collar) / TICK).to_integral_value(ROUND_CEILING) * TICK
    return (mid * (1 + collar) / TICK).to_integral_value(ROUND_FLOOR) * TICK


def advance(clock: SimulatedClock, seconds: float) -> None:
    clock.advance_to(clock.now() + timedelta(seconds=seconds))


# --- it closes positions -------------------------------------------------------------------


async def test_flatten_closes_a_long_and_a_short_at_marketable_prices(store: Store) -> None:
    desk = build(store, flatten=True)
    await desk.quote_all()
    await buy(desk, "40")
    adopt(desk, SHORT, Side.SELL, "30")
    # A resting sell the kill switch must cancel first: left working, the flatten's sell plus
    # it would exceed the position and the flatten would not be reduce-only.
    resting = await rest_a_sell(desk)
    assert resting.status is OutcomeStatus.ACCEPTED

    async with desk.bus.subscribe("alerts") as alerts:
        await desk.kill()
        published = []
        while (message := await alerts.get(timeout=0.1)) is not None:
            published.append(message["data"]["event_type"])

    assert desk.state.state is TradingState.KILLED
    assert desk.position(LONG) == 0
    assert desk.position(SHORT) == 0
    cancelled = await store.get_order_by_client_id("resting")
    assert cancelled is not None
    assert cancelled.status is OrderStatus.CANCELLED

    by_symbol = {o.symbol: o for o in await flatten_orders(store)}
    assert set(by_symbol) == {LONG, SHORT}
    for symbol, side, qty in ((LONG, Side.SELL, 40), (SHORT, Side.BUY, 30)):
        order = by_symbol[symbol]
        assert order.side is side
        assert order.quantity == qty
        assert order.status is OrderStatus.FILLED
        assert order.order_type is OrderType.LIMIT
        assert order.time_in_force is TimeInForce.IOC
        assert order.limit_price == collar_edge(Decimal(100), side)
    flatten_ids = {o.order_id for o in by_symbol.values()}
    fills = {f.symbol: f for f in await store.list_fills() if f.order_id in flatten_ids}
    touch = quote(LONG, desk.clock)
    assert fills[LONG].quantity == 40
    assert fills[LONG].price == touch.bid  # the sell took the bid, not its passive limit
    assert fills[SHORT].price == touch.ask

    audited = await events(store, "kill_switch.flatten")
    assert {e.details["symbol"] for e in audited} == {LONG, SHORT}
    assert all(e.severity is Severity.WARNING for e in audited)
    assert {e.details["order_id"] for e in audited} == {o.order_id for o in by_symbol.values()}
    assert all(e.details["kill_reason"] == "runaway loop" for e in audited)
    [done] = await events(store, "kill_switch.flatten_done")
    assert done.details["still_open"] == []
    assert published == [
        "trading_state.state_killed",
        "kill_switch.flatten",
        "kill_switch.flatten",
        "kill_switch.flatten_done",
    ]


async def test_with_policy_never_the_kill_switch_cancels_but_never_flattens(store: Store) -> None:
    desk = build(store, flatten=False)
    await desk.quote_all()
    await buy(desk, "40")
    resting = await rest_a_sell(desk)
    assert resting.status is OutcomeStatus.ACCEPTED

    await desk.kill()

    assert desk.position(LONG) == 40
    cancelled = await store.get_order_by_client_id("resting")
    assert cancelled is not None
    assert cancelled.status is OrderStatus.CANCELLED
    assert await flatten_orders(store) == []
    assert await events(store, "kill_switch.flatten") == []
    assert await events(store, "kill_switch.flatten_done") == []


# --- it never gets past a control ----------------------------------------------------------


async def test_a_stale_quote_refuses_the_flatten_and_the_position_stays(store: Store) -> None:
    desk = build(store, flatten=True)
    await desk.quote_all()
    await buy(desk, "40")
    cash = desk.ledger.portfolio.cash
    advance(desk.clock, 61)  # the feed froze: the last quote is older than the 60 s reference age

    await desk.kill()

    assert desk.position(LONG) == 40
    assert desk.ledger.portfolio.cash == cash
    [refused] = await flatten_orders(store)
    assert refused.status is OrderStatus.REJECTED
    assert "STALE_REFERENCE" in (refused.status_reason or "")
    assert await desk.broker.find_by_client_id(refused.client_order_id) is None
    [event] = await events(store, "kill_switch.flatten")
    assert event.severity is Severity.CRITICAL
    assert "STALE_REFERENCE" in event.details["codes"]
    assert event.details["position_after"] == "40"
    [done] = await events(store, "kill_switch.flatten_done")
    assert done.severity is Severity.CRITICAL
    assert done.details["still_open"] == [LONG]


async def test_the_per_order_notional_cap_still_applies_to_a_flatten(store: Store) -> None:
    desk = build(store, flatten=True)
    await desk.quote_all()
    adopt(desk, LONG, Side.BUY, "60")  # 6,000 of 100,000 equity: above the 5 % per-order cap

    await desk.kill()

    assert desk.position(LONG) == 60
    [event] = await events(store, "kill_switch.flatten")
    assert "NOTIONAL_EXCEEDS_MAX_PER_ORDER" in event.details["codes"]
    [refused] = await flatten_orders(store)
    assert await desk.broker.find_by_client_id(refused.client_order_id) is None


# --- only the kill path sends while KILLED -------------------------------------------------


async def test_place_stays_refused_while_killed_even_dressed_as_a_flatten(store: Store) -> None:
    desk = build(store, flatten=False)
    await desk.quote_all()
    await buy(desk, "40")
    await desk.kill()

    disguised = OrderRequest(
        symbol=LONG,
        side=Side.SELL,
        quantity=Decimal(40),
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.IOC,
        client_order_id="kill-flatten-by-hand",
        strategy_id="kill_switch",
        reason=FLATTEN_REASON,
    )
    outcome = await desk.orders.place(disguised)

    assert outcome.status is OutcomeStatus.REJECTED
    assert "KILL_SWITCH_ACTIVE" in outcome.codes
    assert await desk.broker.find_by_client_id("kill-flatten-by-hand") is None
    assert desk.position(LONG) == 40


async def test_flatten_all_sends_nothing_unless_the_kill_switch_is_engaged(store: Store) -> None:
    desk = build(store, flatten=True)
    await desk.quote_all()
    await buy(desk, "40")

    assert await desk.orders.flatten_all("not killed") == []

    assert desk.position(LONG) == 40
    assert await flatten_orders(store) == []


def _calls_of(attribute: str, root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == attribute:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


@pytest.mark.parametrize("attribute", ["flatten_all", "_flatten", "_flatten_gate"])
def test_only_the_order_service_reaches_the_flatten_path(attribute: str) -> None:
    sources = [
        REPO / "trading-core" / "src",
        REPO / "mcp-servers" / "src",
        REPO / "agents" / "src",
    ]
    users = [hit for root in sources for hit in _calls_of(attribute, root)]
    assert users, f"the scan found no use of {attribute} at all"
    home = "trading-core/src/trading_core/execution/order_service.py:"
    assert [u for u in users if not u.startswith(home)] == []


# --- several processes, several episodes ---------------------------------------------------


async def test_a_kill_fired_elsewhere_flattens_on_refresh_and_a_new_episode_retries(
    store: Store,
) -> None:
    desk = build(store, flatten=True)
    person = await TradingStateService.load(store=store, bus=desk.bus, clock=desk.clock)
    await desk.quote_all()
    await buy(desk, "40")
    advance(desk.clock, 61)

    await person.activate_kill_switch(reason="first look", by="alice")
    await desk.state.refresh()
    assert desk.position(LONG) == 40  # stale quote: refused, and said so

    await desk.quote_all()
    advance(desk.clock, 1)
    await person.activate_kill_switch(reason="again, with a live feed", by="alice")
    await desk.state.refresh()

    assert desk.position(LONG) == 0
    statuses = sorted(o.status for o in await flatten_orders(store))
    assert statuses == [OrderStatus.FILLED, OrderStatus.REJECTED]


async def test_two_processes_send_at_most_one_flatten_per_symbol_per_kill(store: Store) -> None:
    first = build(store, flatten=True)
    second = build(store, flatten=True, clock=first.clock)  # its own ledger, never synced
    for desk in (first, second):
        await desk.quote_all()
        adopt(desk, SHORT, Side.SELL, "30")

    await first.kill()
    await second.state.refresh()

    assert first.position(SHORT) == 0
    [sent] = await flatten_orders(store)
    assert await second.broker.find_by_client_id(sent.client_order_id) is None
    duplicate = [e for e in await events(store, "kill_switch.flatten") if e.details["duplicate"]]
    assert len(duplicate) == 1


async def test_a_process_that_adopts_the_store_fills_first_sends_no_second_order(
    store: Store,
) -> None:
    first = build(store, flatten=True)
    await first.quote_all()
    await buy(first, "40")
    account = Account(store, INSTRUMENTS, currency="USD", initial_cash=CASH)
    await account.sync()
    second = build(store, flatten=True, clock=first.clock, account=account)
    await second.quote_all()
    assert second.position(LONG) == 40

    await first.kill()
    await second.state.refresh()  # adopts the flatten's fill before looking at positions

    assert second.position(LONG) == 0
    assert len(await flatten_orders(store)) == 1
    assert len(await events(store, "kill_switch.flatten")) == 1


async def test_a_flatten_the_order_gate_kept_out_is_retried_once_the_gate_is_free(
    store: Store,
) -> None:
    """Another process holds the account's order gate through the kill: the flatten is refused
    (ORDER_GATE_BUSY, after the gate's 10 s bound), alerted, and tried again until it runs."""
    free = asyncio.Event()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await free.wait()

    desk = build(store, flatten=True, sleep=sleep)
    await desk.quote_all()
    adopt(desk, SHORT, Side.SELL, "30")
    other = await open_store(store.url, clock=desk.clock)  # another process, same database
    try:
        async with other.order_gate(PAPER_ACCOUNT):
            await desk.kill()
            assert desk.position(SHORT) == -30  # not flattened: the gate was held
            done = [e.message for e in await events(store, "kill_switch.flatten_done")]
            assert any("not run" in m and "retrying in 1 s" in m for m in done), done
            assert await flatten_orders(store) == []
        free.set()  # the other process let go: the retry's wait ends now
        for _ in range(200):
            if desk.position(SHORT) == 0:
                break
            await asyncio.sleep(0.02)
    finally:
        await other.close()
        await desk.orders.close()

    assert desk.position(SHORT) == 0
    assert len(await flatten_orders(store)) == 1
    assert waits == [1.0]  # one retry was enough


async def test_a_pending_flatten_retry_ends_with_its_kill_episode_or_the_service(
    store: Store,
) -> None:
    waits: list[float] = []
    released = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await released.wait()

    desk = build(store, flatten=True, sleep=sleep)
    await desk.quote_all()
    adopt(desk, SHORT, Side.SELL, "30")
    other = await open_store(store.url, clock=desk.clock)
    try:
        async with other.order_gate(PAPER_ACCOUNT):
            await desk.kill()
        # A person resets the kill switch before the retry is due: the retry sends nothing.
        await desk.state.reset_kill_switch(
            by="alice", human=True, reason="drill over", override_latch=True
        )
        released.set()
        for _ in range(50):
            await asyncio.sleep(0.02)
        assert desk.position(SHORT) == -30
        assert await flatten_orders(store) == []
        assert waits == [1.0]
        # And closing the service cancels a retry still waiting.
        released.clear()
        async with other.order_gate(PAPER_ACCOUNT):
            await desk.kill("again")
        await desk.orders.close()
        released.set()
        await asyncio.sleep(0.1)
        assert await flatten_orders(store) == []
    finally:
        await other.close()
