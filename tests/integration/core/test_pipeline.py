"""The per-bar pipeline on hand-built bars: timing of trades, and the audit rows it writes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from decimal import Decimal

import pytest

from trading_agents.ma_cross import MovingAverageCross
from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.domain.market import Bar, Timeframe
from trading_core.domain.signal import DecisionType
from trading_core.orchestrator.pipeline import Pipeline, PipelineConfig
from trading_core.ports.metrics import NullMetrics
from trading_core.ports.store import Store

from .conftest import SYMBOL, T0, build_account

pytestmark = pytest.mark.integration

# Flat near 100, then a rise that makes sma2 cross above sma4 at bar index 5's close.
CLOSES = ["100", "100", "100", "100", "100", "104", "106", "107", "108", "100", "95", "94"]


def bars(closes: Sequence[str]) -> list[Bar]:
    out = []
    previous = Decimal(closes[0])
    for i, raw in enumerate(closes):
        close = Decimal(raw)
        opening = previous + Decimal("0.5")  # each bar opens above the last close
        out.append(
            Bar(
                symbol=SYMBOL,
                timeframe=Timeframe.M5,
                timestamp=T0 + timedelta(minutes=5 * i),
                open=opening,
                high=max(opening, close) + 1,
                low=min(opening, close) - 1,
                close=close,
                volume=Decimal(1_000),
            )
        )
        previous = close
    return out


async def _stream(items: Sequence[Bar]) -> AsyncIterator[Bar]:
    for item in items:
        yield item


async def run_pipeline(store: Store, closes: Sequence[str]) -> Pipeline:
    account = build_account(store)
    pipeline = Pipeline(
        config=PipelineConfig(
            run_id="r" * 32, order_fraction=Decimal("0.02"), spread_bps=Decimal(0), source_name="t"
        ),
        clock=account.clock,
        advance_clock=account.clock.advance_to,
        agent=MovingAverageCross(fast=2, slow=4),
        instruments=account.instruments,
        orders=account.service,
        state=account.state,
        ledger=account.ledger,
        store=store,
        bus=InMemoryBus(account.clock),
        metrics=NullMetrics(),
    )
    await pipeline.run(_stream(bars(closes)))
    return pipeline


async def test_signal_at_a_close_trades_at_the_next_bar_open(store: Store) -> None:
    await run_pipeline(store, CLOSES)
    decisions = await store.list_decisions()
    entry = next(d for d in decisions if d.decision_type is DecisionType.ENTRY)
    signal_bar = bars(CLOSES)[5]
    assert entry.timestamp == signal_bar.close_time
    orders = await store.list_orders()
    buy = next(o for o in orders if o.side == "buy")
    assert buy.created_at == signal_bar.close_time  # = the next bar's open
    fills = await store.list_fills()
    # Filled at the next bar's open (104.5), not the signal bar's close (104) or anything later.
    assert fills[0].price == Decimal("104.5")
    assert entry.order_id == buy.order_id


async def test_every_bar_gets_exactly_one_audited_decision_with_reasoning(store: Store) -> None:
    pipeline = await run_pipeline(store, CLOSES)
    decisions = await store.list_decisions()
    assert len(decisions) == len(CLOSES) == pipeline.stats.bars
    assert [d.timestamp for d in decisions] == sorted(d.timestamp for d in decisions)
    warming = [d for d in decisions if "warming up" in d.reasoning]
    assert len(warming) == 4  # sma4 and one bar before it
    exits = [d for d in decisions if d.decision_type is DecisionType.EXIT]
    assert exits
    assert "crossed below" in exits[0].reasoning
    assert exits[0].risk_check["approved"] is True


async def test_an_action_with_no_next_bar_is_recorded_as_not_sent(store: Store) -> None:
    await run_pipeline(store, CLOSES[:6])  # ends on the signal bar
    decisions = await store.list_decisions()
    assert decisions[-1].decision_type is DecisionType.ENTRY
    assert decisions[-1].final_action.startswith("not sent")
    assert await store.list_orders() == []
