"""Run-time risk limits on a real (SQLite) store: judge, apply, reload across processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.signal import DecisionType
from trading_core.ports.store import Store
from trading_core.risk import limits as caps
from trading_core.risk.risk_config import load_risk_limits
from trading_core.services.limits import ChangeKind, RiskLimitRefusedError, RiskLimitsService
from trading_core.storage.factory import open_store

CLOCK = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    clock = CLOCK
    opened = await open_store(f"sqlite:///{tmp_path / 'limits.db'}", clock=clock)
    await opened.upgrade()
    yield opened
    await opened.close()


async def test_lower_is_tighter_higher_is_looser_and_equal_is_unchanged(store: Store) -> None:
    service = RiskLimitsService(store, load_risk_limits({"max_position_pct": "8"}), clock=CLOCK)
    await service.reload()
    assert service.judge("max_position_pct", Decimal(5)).kind is ChangeKind.TIGHTEN
    assert service.judge("max_position_pct", Decimal(9)).kind is ChangeKind.LOOSEN
    assert service.judge("max_position_pct", Decimal(8)).kind is ChangeKind.UNCHANGED


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_position_pct", caps.MAX_POSITION_PCT + Decimal("0.01")),  # beyond the hard cap
        ("max_position_pct", Decimal(0)),  # zero is not a limit (use the kill switch)
        ("max_open_orders", Decimal("2.5")),  # a count must be whole
        ("allowed_order_types", Decimal(1)),  # allow-lists only in the TOML file
        ("no_such_limit", Decimal(1)),
    ],
)
async def test_refused_values_never_reach_the_store(store: Store, key: str, value: Decimal) -> None:
    service = RiskLimitsService(store, load_risk_limits({}), clock=CLOCK)
    with pytest.raises(RiskLimitRefusedError):
        service.judge(key, value)
    assert await store.get_risk_limits() == {}


async def test_an_applied_change_is_seen_by_another_process_on_reload(store: Store) -> None:
    writer = RiskLimitsService(store, load_risk_limits({}), clock=CLOCK)
    reader = RiskLimitsService(store, load_risk_limits({}), clock=CLOCK)
    await writer.reload()
    await reader.reload()
    change = writer.judge("max_order_notional_pct", Decimal(2))
    await writer.apply(change, by="assistant")
    [row] = await store.list_decisions()
    assert row.decision_type is DecisionType.LIMIT_CHANGE
    assert row.principal == "assistant"
    assert row.risk_check["key"] == "max_order_notional_pct"
    assert row.risk_check["proposed"] == "2"
    assert row.risk_check["kind"] == "tighten"
    assert reader.effective.max_order_notional_pct == caps.MAX_ORDER_NOTIONAL_PCT
    assert (await reader.reload()).max_order_notional_pct == Decimal(2)
    assert {i.key: i.effective for i in reader.describe()}["max_order_notional_pct"] == Decimal(2)


async def test_a_stored_value_beyond_a_cap_fails_closed_on_reload(store: Store) -> None:
    # Someone edited the table by hand: the limits refuse to load rather than trade on it.
    await store.set_risk_limit("max_position_pct", Decimal(50), updated_by="sql")
    service = RiskLimitsService(store, load_risk_limits({}), clock=CLOCK)
    with pytest.raises(Exception, match="max_position_pct"):
        await service.reload()
