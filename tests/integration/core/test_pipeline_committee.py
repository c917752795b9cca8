"""The pipeline with a committee: regime in the reasoning, filters shrink or veto the size."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal

import pytest

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.domain.market import Bar, Timeframe
from trading_core.domain.signal import DecisionType, Signal
from trading_core.orchestrator.committee import Committee
from trading_core.orchestrator.pipeline import Pipeline, PipelineConfig
from trading_core.ports.agent import AgentContext, FilterVerdict
from trading_core.ports.metrics import NullMetrics
from trading_core.ports.store import Store

from .conftest import SYMBOL, T0, build_account

pytestmark = pytest.mark.integration

ALL_REGIMES = frozenset({"trending_up", "trending_down", "ranging", "high_volatility"})


class Eager:
    """Wants to buy on every bar; its filter multiplies the size by ``multiplier``."""

    def __init__(self, name: str, multiplier: float) -> None:
        self.name = name
        self.multiplier = multiplier

    warmup_bars = 1
    target_regimes = ALL_REGIMES

    @property
    def alpha_weights(self) -> Mapping[str, float]:
        return {"eager": 1.0}

    def evaluate(self, context: AgentContext) -> Signal | None:
        return Signal(
            agent=self.name,
            symbol=context.bar.symbol,
            timestamp=context.bar.close_time,
            score=0.9,
            reason="always buy",
        )

    def trade_filter(self, signal: Signal, context: AgentContext) -> FilterVerdict:
        return FilterVerdict(self.multiplier, f"x{self.multiplier}")


def bars(count: int) -> list[Bar]:
    out = []
    for i in range(count):
        close = Decimal(100) + Decimal(i % 7) - 3
        out.append(
            Bar(
                symbol=SYMBOL,
                timeframe=Timeframe.M5,
                timestamp=T0 + timedelta(minutes=5 * i),
                open=close,
                high=close + 1,
                low=close - 1,
                close=close,
                volume=Decimal(1_000),
            )
        )
    return out


async def _stream(items: Sequence[Bar]) -> AsyncIterator[Bar]:
    for item in items:
        yield item


async def run_committee(store: Store, multiplier: float, count: int = 62) -> None:
    account = build_account(store)
    pipeline = Pipeline(
        config=PipelineConfig(
            run_id="c" * 32,
            order_fraction=Decimal("0.02"),
            spread_bps=Decimal(0),
            source_name="t",
            entry_threshold=0.3,
        ),
        clock=account.clock,
        advance_clock=account.clock.advance_to,
        agent=Committee([Eager("eager", 1.0), Eager("filter", multiplier)]),
        instruments=account.instruments,
        orders=account.service,
        state=account.state,
        ledger=account.ledger,
        store=store,
        bus=InMemoryBus(account.clock),
        metrics=NullMetrics(),
    )
    await pipeline.run(_stream(bars(count)))


async def test_no_signal_before_the_regime_can_be_classified(store: Store) -> None:
    await run_committee(store, 1.0, count=59)
    decisions = await store.list_decisions()
    assert len(decisions) == 59
    assert all(d.decision_type is DecisionType.SKIP for d in decisions)
    assert await store.list_orders() == []


async def test_the_reasoning_names_the_regime_and_each_agent(store: Store) -> None:
    await run_committee(store, 1.0)
    entry = next(d for d in await store.list_decisions() if d.decision_type is DecisionType.ENTRY)
    assert "regime " in entry.reasoning
    assert "eager +0.90" in entry.reasoning
    assert "filter +0.90" in entry.reasoning


async def test_a_filter_that_halves_halves_the_order(store: Store) -> None:
    await run_committee(store, 0.5)
    half = next(o for o in await store.list_orders() if o.side == "buy")
    entry = next(d for d in await store.list_decisions() if d.decision_type is DecisionType.ENTRY)
    assert "size x0.5" in entry.reasoning
    equity, ask = Decimal(100_000), half.limit_price
    assert ask is not None
    # The full-size order would be 2 % of equity; the filtered one is half of that (lot 0.001).
    assert half.quantity * ask <= equity * Decimal("0.01") * Decimal("1.01")
    assert half.quantity * ask >= equity * Decimal("0.01") * Decimal("0.9")


async def test_a_veto_skips_the_entry_with_the_reason(store: Store) -> None:
    await run_committee(store, 0.0)
    assert await store.list_orders() == []
    vetoed = [d for d in await store.list_decisions() if "vetoed by" in d.reasoning]
    assert vetoed
    assert all(d.decision_type is DecisionType.SKIP for d in vetoed)
    assert "filter: x0.0" in vetoed[0].reasoning
