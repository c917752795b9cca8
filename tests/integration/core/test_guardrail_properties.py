"""Property test: random markets, random (often absurd) orders and random state events.

Hypothesis draws a market path (a random walk in the mid with occasional jumps, quotes that
sometimes stop arriving so the reference goes stale), a stream of order requests and trading
state events, and drives one real account (SQLite store, paper broker, simulated clock) through
them. After every step the guardrail invariants must hold.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading_core.domain.errors import TradingError
from trading_core.domain.instrument import AssetClass
from trading_core.domain.order import OrderType, Side, TimeInForce
from trading_core.domain.state import TradingState
from trading_core.risk.limits import MAX_POSITION_PCT, PRICE_COLLAR_PCT
from trading_core.risk.pretrade import OrderRequest
from trading_core.storage.factory import open_store

from .conftest import SYMBOL, Account, build_account, quote

pytestmark = pytest.mark.integration

TICK = Decimal("0.01")
COLLAR_PCT = PRICE_COLLAR_PCT[AssetClass.CRYPTO]
# Equity is measured after the fill, the position limit was checked against equity when the
# order was checked; a resting order can fill after the market moved, so allow a little drift.
EQUITY_DRIFT = Decimal("1.02")


@dataclass(frozen=True)
class Tick:
    """Time passes; the mid moves by ``move_bps`` (a jump when large); maybe no quote arrives."""

    seconds: int
    move_bps: int
    quote_arrives: bool


@dataclass(frozen=True)
class Ask:
    side: Side
    quantity: Decimal
    limit_offset_pct: Decimal
    market: bool
    ioc: bool


@dataclass(frozen=True)
class Event:
    name: str


ticks = st.builds(
    Tick,
    seconds=st.integers(0, 90),
    move_bps=st.integers(-50, 50) | st.sampled_from([-2000, -1000, 1000, 2000]),  # rare jumps
    quote_arrives=st.sampled_from([True, True, True, False]),  # sometimes the feed is silent
)
quantities = st.one_of(
    st.decimals(min_value=Decimal("0.001"), max_value=Decimal("5"), places=3),
    st.decimals(min_value=Decimal("0.001"), max_value=Decimal("60"), places=3),
    st.sampled_from([Decimal("0.001"), Decimal(1), Decimal(10), Decimal(49), Decimal(500)]),
)
offsets = st.one_of(
    st.decimals(min_value=Decimal(-1), max_value=Decimal(1), places=2),
    st.decimals(min_value=Decimal(-6), max_value=Decimal(6), places=2),
    st.sampled_from([Decimal(-90), Decimal(-50), Decimal(900), Decimal(100)]),  # absurd
)
asks = st.builds(
    Ask,
    side=st.sampled_from([Side.BUY, Side.SELL]),
    quantity=quantities,
    limit_offset_pct=offsets,
    market=st.integers(0, 9).map(lambda n: n == 0),  # one order in ten is a market order
    ioc=st.booleans(),
)
events = st.builds(
    Event, name=st.sampled_from(["pause", "kill", "halt", "resume", "reset", "evaluate"])
)
# Weighted by repetition: mostly orders, regular ticks, an occasional state event.
scenario_steps = st.lists(
    st.one_of(ticks, ticks, asks, asks, asks, asks, asks, events),
    min_size=20,
    max_size=120,
)


class Tracker:
    """Runs the steps and checks the invariants after each one."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.mid = Decimal(100)
        self.mid_at_submit: dict[str, Decimal] = {}
        self.seen_fills: set[str] = set()
        self.orders_sent = 0
        self.count = 0

    async def tick(self, step: Tick) -> None:
        self.account.clock.advance(timedelta(seconds=step.seconds))
        moved = self.mid * (1 + Decimal(step.move_bps) / 10_000)
        self.mid = max(moved.quantize(TICK, ROUND_HALF_UP), Decimal(1))
        if step.quote_arrives:
            await self.account.service.on_quote(
                quote(str(self.mid), at=self.account.clock.now(), volume="1000000")
            )

    async def ask(self, step: Ask) -> None:
        self.count += 1
        cid = f"p-{self.count}"
        limit = (self.mid * (1 + step.limit_offset_pct / 100)).quantize(TICK, ROUND_HALF_UP)
        order = OrderRequest(
            symbol=SYMBOL,
            side=step.side,
            quantity=step.quantity,
            order_type=OrderType.MARKET if step.market else OrderType.LIMIT,
            limit_price=None if step.market else max(limit, TICK),
            time_in_force=TimeInForce.IOC if step.ioc else TimeInForce.GTC,
            client_order_id=cid,
        )
        state_before = self.account.state.state
        reference = self.account.service.exposure_view(SYMBOL).quote
        outcome = await self.account.service.place(order)
        sent = await self.account.broker.find_by_client_id(cid)
        if state_before in (TradingState.HALTED, TradingState.KILLED):
            assert sent is None, f"order left while {state_before}: {outcome}"
        if sent is not None:
            self.orders_sent += 1
            assert reference is not None, "an order left without a reference quote"
            assert outcome.order is not None
            self.mid_at_submit[outcome.order.order_id] = reference.mid

    async def event(self, step: Event) -> None:
        state = self.account.state
        try:
            if step.name == "pause":
                await state.pause(reason="property", minutes=5, by="hypothesis")
            elif step.name == "kill":
                await state.activate_kill_switch(reason="property", by="hypothesis")
            elif step.name == "halt":
                await state.halt(reason="property", by="hypothesis")
            elif step.name == "resume":
                await state.resume(by="alice", human=True, reason="property")
            elif step.name == "reset":
                await state.reset_kill_switch(
                    reason="reviewed", by="alice", human=True, override_latch=True
                )
            else:
                await state.evaluate(lambda: (Decimal(0), Decimal(0)))
        except TradingError:
            pass  # a refused transition (e.g. resume while killed) is itself correct

    async def check_invariants(self) -> None:
        portfolio = self.account.ledger.portfolio
        assert portfolio.cash >= 0, f"cash went negative: {portfolio.cash}"
        equity = portfolio.equity
        cap = equity * MAX_POSITION_PCT / 100 * EQUITY_DRIFT
        for fill in await self.account.store.list_fills():
            if fill.fill_id in self.seen_fills:
                continue
            self.seen_fills.add(fill.fill_id)
            mid = self.mid_at_submit.get(fill.order_id)
            assert mid is not None, f"fill for an order never seen leaving: {fill}"
            stored = await self.account.store.get_order(fill.order_id)
            assert stored is not None
            assert stored.limit_price is not None, "an order filled without a limit price"
            deviation = abs(stored.limit_price - mid) / mid * 100
            assert deviation <= COLLAR_PCT, f"filled limit {stored.limit_price} vs mid {mid}"
            position = portfolio.position(SYMBOL).quantity
            assert abs(position) * fill.price <= cap, (
                f"position {position} x {fill.price} above {MAX_POSITION_PCT}% of {equity}"
            )


async def run_scenario(steps: list[Tick | Ask | Event]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{Path(tmp) / 'x.db'}")
        try:
            await store.upgrade()
            tracker = Tracker(build_account(store))
            await tracker.tick(Tick(seconds=0, move_bps=0, quote_arrives=True))
            for step in steps:
                if isinstance(step, Tick):
                    await tracker.tick(step)
                elif isinstance(step, Ask):
                    await tracker.ask(step)
                else:
                    await tracker.event(step)
                await tracker.check_invariants()
            return tracker.count
        finally:
            await store.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=scenario_steps)
def test_random_markets_and_orders_never_break_a_guardrail(steps: list[Tick | Ask | Event]) -> None:
    asyncio.run(run_scenario(steps))
