"""The breakers on configured (tightened) thresholds: tiers trip earlier, pauses and latches last
longer, hysteresis follows the configured tier, and the trading-state service uses them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.state import TradingState
from trading_core.execution.trading_state import TradingStateService
from trading_core.ports.store import Store
from trading_core.risk.breaker_config import BreakerLimits
from trading_core.risk.breakers import evaluate_breakers, evaluate_safely
from trading_core.risk.risk_config import load_breaker_limits
from trading_core.risk.states import (
    KILL_LATCH,
    DailyLossLevel,
    DrawdownTier,
    KillSwitchLatched,
    StateRecord,
    activate_kill_switch,
    reset_kill_switch,
    resume,
)
from trading_core.storage.factory import open_store

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
SESSION_END = datetime(2024, 3, 1, 21, 0, tzinfo=UTC)
ACTIVE = StateRecord.initial(T0)
HARD = BreakerLimits()
TIGHT = load_breaker_limits(
    {
        "daily_loss_warning_pct": "-1",
        "daily_loss_critical_pct": "-1.5",
        "drawdown_pause_1h_pct": "3",
        "drawdown_pause_4h_pct": "6",
        "drawdown_kill_pct": "9",
        "pause_1h_minutes": 90,
        "pause_4h_minutes": 360,
        "kill_latch_hours": 48,
    }
)


NONE, PAUSE_1H, PAUSE_4H, KILL = DrawdownTier


def evaluate(
    record: StateRecord,
    thresholds: BreakerLimits,
    *,
    drawdown: str = "0",
    daily: str = "0",
    at: datetime = T0,
) -> StateRecord:
    new, _ = evaluate_breakers(
        record,
        daily_pnl_pct=Decimal(daily),
        drawdown_pct=Decimal(drawdown),
        now=at,
        session_end=SESSION_END,
        thresholds=thresholds,
    )
    return new


@pytest.mark.parametrize(
    ("drawdown", "state", "pause_minutes", "tier", "hard_tier"),
    [
        ("2.99", TradingState.ACTIVE, None, NONE, NONE),
        ("3", TradingState.HALTED, 90, PAUSE_1H, NONE),
        ("6", TradingState.HALTED, 360, PAUSE_4H, PAUSE_1H),
        ("9", TradingState.KILLED, None, KILL, PAUSE_1H),
    ],
)
def test_each_configured_drawdown_tier_trips_earlier_and_pauses_longer(
    drawdown: str,
    state: TradingState,
    pause_minutes: int | None,
    tier: DrawdownTier,
    hard_tier: DrawdownTier,
) -> None:
    tight = evaluate(ACTIVE, TIGHT, drawdown=drawdown)
    hard = evaluate(ACTIVE, HARD, drawdown=drawdown)

    until = None if pause_minutes is None else T0 + timedelta(minutes=pause_minutes)
    assert (tight.state, tight.until, tight.breaker_tier) == (state, until, tier)
    assert hard.breaker_tier is hard_tier  # the same drawdown on the hard values


def test_the_breaker_kill_latches_for_the_configured_time() -> None:
    killed = evaluate(ACTIVE, TIGHT, drawdown="9.5")
    assert killed.kill_latched_until == T0 + timedelta(hours=48)
    after_a_day = T0 + timedelta(hours=30)  # past the hard 24 h, inside the configured 48 h
    with pytest.raises(KillSwitchLatched):
        reset_kill_switch(killed, reason="reviewed", now=after_a_day, by="alice", human=True)
    later = T0 + timedelta(hours=48)
    lifted, _ = reset_kill_switch(killed, reason="reviewed", now=later, by="alice", human=True)
    assert lifted.state is TradingState.ACTIVE


@pytest.mark.parametrize(
    ("daily", "tight_level", "hard_level"),
    [
        ("-0.99", DailyLossLevel.NORMAL, DailyLossLevel.NORMAL),
        ("-1", DailyLossLevel.WARNING, DailyLossLevel.NORMAL),
        ("-1.5", DailyLossLevel.CRITICAL, DailyLossLevel.NORMAL),
        ("-2", DailyLossLevel.CRITICAL, DailyLossLevel.WARNING),
    ],
)
def test_configured_daily_loss_levels_are_reached_earlier(
    daily: str, tight_level: DailyLossLevel, hard_level: DailyLossLevel
) -> None:
    tight = evaluate(ACTIVE, TIGHT, daily=daily)
    hard = evaluate(ACTIVE, HARD, daily=daily)

    assert (tight.daily_level, hard.daily_level) == (tight_level, hard_level)
    if tight_level is DailyLossLevel.CRITICAL:
        assert (tight.state, tight.until) == (TradingState.REDUCING, SESSION_END)
    else:
        assert tight.state is TradingState.ACTIVE


def test_hysteresis_follows_the_configured_tier() -> None:
    # The tier is at 3: after a trip it re-arms only below 2 (the 1-point band).
    record = ACTIVE
    trips = 0
    for minute, value in enumerate(["2.9", "3.1", "2.5", "3.2", "1.9", "3.1"]):
        if record.state is TradingState.HALTED:
            record, _ = resume(record, now=T0, by="alice", human=True)
        before = record.breaker_tier
        record = evaluate(record, TIGHT, drawdown=value, at=T0 + timedelta(minutes=minute))
        trips += record.breaker_tier > before
    assert trips == 2


def test_evaluate_safely_passes_the_thresholds_through() -> None:
    tight, _ = evaluate_safely(
        lambda: (Decimal(0), Decimal("3.5")), ACTIVE, T0, session_end=SESSION_END, thresholds=TIGHT
    )
    hard, _ = evaluate_safely(lambda: (Decimal(0), Decimal("3.5")), ACTIVE, T0)
    assert (tight.state, hard.state) == (TradingState.HALTED, TradingState.ACTIVE)


def test_a_kill_switch_latch_shorter_than_the_hard_one_is_not_honoured() -> None:
    record, _ = activate_kill_switch(
        ACTIVE, reason="test", now=T0, by="alice", latch=timedelta(minutes=5)
    )
    assert record.kill_latched_until == T0 + KILL_LATCH
    longer, _ = activate_kill_switch(
        ACTIVE, reason="test", now=T0, by="alice", latch=timedelta(hours=72)
    )
    assert longer.kill_latched_until == T0 + timedelta(hours=72)


# --- the trading-state service ------------------------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(f"sqlite:///{tmp_path / 'state.db'}")
    await opened.upgrade()
    yield opened
    await opened.close()


async def _service(store: Store, thresholds: BreakerLimits | None) -> TradingStateService:
    clock = SimulatedClock(T0)
    return await TradingStateService.load(
        store=store, bus=InMemoryBus(clock), clock=clock, breaker_limits=thresholds
    )


async def test_the_service_runs_the_breakers_on_its_configured_thresholds(store: Store) -> None:
    service = await _service(store, TIGHT)
    assert service.breaker_limits is TIGHT
    await service.evaluate(lambda: (Decimal(0), Decimal("3.5")))
    assert service.state is TradingState.HALTED
    assert service.record.until == T0 + timedelta(minutes=90)


async def test_without_configuration_the_service_uses_the_hard_values(store: Store) -> None:
    service = await _service(store, None)
    assert service.breaker_limits == HARD
    await service.evaluate(lambda: (Decimal(0), Decimal("3.5")))
    assert service.state is TradingState.ACTIVE
    await service.evaluate(lambda: (Decimal(0), Decimal(5)))
    assert service.record.until == T0 + timedelta(minutes=60)


async def test_a_kill_switch_fired_through_the_service_uses_the_configured_latch(
    store: Store,
) -> None:
    service = await _service(store, TIGHT)
    record = await service.activate_kill_switch(reason="operator stop", by="alice")
    assert record.kill_latched_until == T0 + timedelta(hours=48)
