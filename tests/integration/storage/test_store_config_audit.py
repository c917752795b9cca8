"""Strategies, risk limits, decisions, system events and key/value state, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.signal import Decision, DecisionType
from trading_core.domain.state import Severity, Strategy, SystemEvent
from trading_core.ports.store import Store

pytestmark = pytest.mark.integration


async def test_strategies_are_saved_replaced_and_listed_by_id(store: Store) -> None:
    trend = Strategy(strategy_id="trend", agent="ma_cross", symbols=["BTC/USD"])
    await store.save_strategy(trend)
    await store.save_strategy(Strategy(strategy_id="carry", agent="fx_carry", enabled=False))
    tuned = trend.model_copy(update={"parameters": {"fast": 10, "slow": 50, "ratio": 0.5}})
    await store.save_strategy(tuned)

    assert await store.list_strategies() == [
        Strategy(strategy_id="carry", agent="fx_carry", enabled=False),
        tuned,
    ]


async def test_risk_limit_is_overwritten_by_the_latest_setting(store: Store) -> None:
    await store.set_risk_limit("max_position_pct", Decimal("10"), updated_by="config")
    await store.set_risk_limit("max_daily_loss_pct", Decimal("2.5"), updated_by="config")
    await store.set_risk_limit("max_position_pct", Decimal("5"), updated_by="operator")

    assert await store.get_risk_limits() == {
        "max_daily_loss_pct": Decimal("2.5"),
        "max_position_pct": Decimal("5"),
    }


async def test_thousand_decisions_are_written_in_one_call_and_read_back_in_order(
    store: Store, make_decision: Callable[..., Decision], clock: SimulatedClock
) -> None:
    decisions = [make_decision(i) for i in range(1000)]

    assert await store.record_decisions(decisions) == 1000

    assert await store.count_decisions() == 1000
    stored = await store.list_decisions()
    assert len(stored) == 1000
    ids = [d.id for d in stored if d.id is not None]
    assert len(ids) == 1000
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000
    first = stored[0]
    assert first.recorded_at == clock.now()
    assert first.model_copy(update={"id": None, "recorded_at": None}) == decisions[0]
    assert stored[-1].reasoning == "nothing to do at bar 999"


async def test_decisions_filter_by_symbol_run_id_and_since(
    store: Store, make_decision: Callable[..., Decision], t0: datetime
) -> None:
    await store.record_decisions(
        [
            make_decision(0, run_id="run-a"),
            make_decision(1, run_id="run-b", symbol="ETH/USD"),
            make_decision(2, run_id="run-b", decision_type=DecisionType.ENTRY, order_id="ord-1"),
            make_decision(3, run_id="run-b", risk_check={"approved": False, "limit": "5.5"}),
        ]
    )

    assert await store.count_decisions(run_id="run-b") == 3
    assert await store.count_decisions(run_id="nobody") == 0
    run_b_btc = await store.list_decisions(run_id="run-b", symbol="BTC/USD")
    assert [d.reasoning for d in run_b_btc] == ["nothing to do at bar 2", "nothing to do at bar 3"]
    assert run_b_btc[0].order_id == "ord-1"
    assert run_b_btc[0].decision_type is DecisionType.ENTRY
    assert run_b_btc[1].risk_check == {"approved": False, "limit": "5.5"}
    since = await store.list_decisions(since=t0 + timedelta(minutes=2))
    assert [d.timestamp for d in since] == [t0 + timedelta(minutes=m) for m in (2, 3)]
    latest = await store.list_decisions(limit=1)
    assert [d.reasoning for d in latest] == ["nothing to do at bar 3"]


async def test_recording_no_decisions_writes_nothing(store: Store) -> None:
    assert await store.record_decisions([]) == 0
    assert await store.count_decisions() == 0


async def test_system_events_get_ids_and_are_listed_newest_first(
    store: Store, t0: datetime
) -> None:
    def event(minute: int, event_type: str) -> SystemEvent:
        return SystemEvent(
            timestamp=t0 + timedelta(minutes=minute),
            event_type=event_type,
            component="risk",
            severity=Severity.CRITICAL if event_type == "kill_switch" else Severity.INFO,
            message=f"{event_type} at {minute}",
            details={"drawdown_pct": "7.5", "nested": {"symbols": ["BTC/USD"]}},
        )

    first = await store.record_event(event(0, "breaker_tripped"))
    second = await store.record_event(event(1, "kill_switch"))
    third = await store.record_event(event(2, "breaker_tripped"))

    assert first < second < third
    assert [e.id for e in await store.list_events()] == [third, second, first]
    breakers = await store.list_events(event_type="breaker_tripped", limit=1)
    assert breakers == [event(2, "breaker_tripped").model_copy(update={"id": third})]
    kill = (await store.list_events(event_type="kill_switch"))[0]
    assert kill.severity is Severity.CRITICAL
    assert kill.details["nested"] == {"symbols": ["BTC/USD"]}


async def test_state_is_stored_by_key_and_replaced_on_put(store: Store) -> None:
    assert await store.get_state("kill_switch") is None

    await store.put_state("kill_switch", {"latched": False})
    await store.put_state("kill_switch", {"latched": True, "by": "operator", "count": 2})
    await store.put_state("session", {"state": "ACTIVE"})

    assert await store.get_state("kill_switch") == {"latched": True, "by": "operator", "count": 2}
    assert await store.get_state("session") == {"state": "ACTIVE"}


async def test_decimals_inside_json_are_kept_as_exact_strings(store: Store) -> None:
    await store.put_state("breaker", {"threshold": Decimal("0.00000001"), "ratio": float("nan")})

    assert await store.get_state("breaker") == {"threshold": "1E-8", "ratio": None}
