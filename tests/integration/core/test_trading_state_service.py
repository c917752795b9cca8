"""Trading state persisted, restored, announced; the kill switch cancels open orders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading_core.adapters.bus_memory import InMemoryBus
from trading_core.adapters.metrics import Metrics
from trading_core.domain.order import OrderStatus, Side
from trading_core.domain.signal import DecisionType
from trading_core.domain.state import Severity, TradingState
from trading_core.execution.trading_state import STATE_KEY, TradingStateService
from trading_core.ports.bus import SESSION_STATE_KEY
from trading_core.ports.store import Store
from trading_core.risk.pretrade import OrderRequest
from trading_core.risk.states import HumanApprovalRequired

from .conftest import SYMBOL, Account, build_account, quote

pytestmark = pytest.mark.integration


async def _service(account: Account, bus: InMemoryBus, metrics: Metrics) -> TradingStateService:
    return await TradingStateService.load(
        store=account.store, bus=bus, clock=account.clock, gauge=metrics
    )


async def test_a_first_start_is_active_and_persisted(account: Account) -> None:
    service = await _service(account, InMemoryBus(account.clock), Metrics())
    assert service.state is TradingState.ACTIVE
    stored = await account.store.get_state(STATE_KEY)
    assert stored is not None
    assert stored["state"] == "ACTIVE"


async def test_kill_switch_survives_a_restart_and_only_a_person_resets_it(store: Store) -> None:
    account = build_account(store)
    bus = InMemoryBus(account.clock)
    first = await _service(account, bus, Metrics())
    await first.activate_kill_switch(reason="runaway loop", by="operator")

    restarted = await _service(build_account(store), bus, Metrics())
    assert restarted.state is TradingState.KILLED
    assert restarted.order_allowed(reduces_position=True) == "KILL_SWITCH_ACTIVE"
    assert restarted.order_allowed(reduces_position=False, is_cancel=True) is None
    with pytest.raises(HumanApprovalRequired):
        await restarted.reset_kill_switch(reason="reviewed", by="model", human=False)
    await restarted.reset_kill_switch(
        reason="reviewed the loop", by="alice", human=True, override_latch=True
    )
    assert restarted.record.state is TradingState.ACTIVE


async def test_every_change_is_audited_alerted_and_exported(account: Account) -> None:
    bus = InMemoryBus(account.clock)
    metrics = Metrics()
    service = await _service(account, bus, metrics)
    async with bus.subscribe("alerts") as alerts:
        await service.pause(reason="news", minutes=30, by="assistant")
        message = await alerts.get(timeout=1)
    assert message is not None
    assert message["data"]["component"] == "risk.states"
    assert await bus.get(SESSION_STATE_KEY) == "HALTED"
    events = await account.store.list_events()
    assert any("news" in e.message or "news" in str(e.details) for e in events)
    assert b"trading_state 2.0" in metrics.render()


async def test_the_kill_switch_cancels_every_open_order(account: Account) -> None:
    service = await _service(account, InMemoryBus(account.clock), Metrics())

    async def cancel_all() -> None:
        for order in account.service.open_orders():
            await account.service.cancel(order.order_id)

    service.on_kill(cancel_all)
    await account.service.on_quote(quote())
    outcome = await account.service.place(
        OrderRequest(
            symbol=SYMBOL,
            side=Side.BUY,
            quantity=Decimal(5),
            limit_price=Decimal("99.00"),
            client_order_id="resting-1",
        )
    )
    assert outcome.order is not None
    await service.activate_kill_switch(reason="test", by="operator")
    assert account.service.open_orders() == []
    stored = await account.store.get_order(outcome.order.order_id)
    assert stored is not None
    assert stored.status is OrderStatus.CANCELLED


async def test_breakers_fail_closed_when_the_metrics_cannot_be_computed(account: Account) -> None:
    service = await _service(account, InMemoryBus(account.clock), Metrics())

    def broken() -> tuple[Decimal, Decimal]:
        raise ZeroDivisionError("equity is zero")

    await service.evaluate(broken)
    assert service.state is TradingState.REDUCING
    assert service.order_allowed(reduces_position=False) == "TRADING_REDUCING_ONLY"
    critical = [e for e in await account.store.list_events() if e.severity is Severity.CRITICAL]
    assert critical


async def test_a_deep_drawdown_trips_the_kill_switch(account: Account) -> None:
    service = await _service(account, InMemoryBus(account.clock), Metrics())
    await service.evaluate(lambda: (Decimal("-1"), Decimal("15.5")))
    assert service.state is TradingState.KILLED


async def test_a_breaker_trip_is_one_state_change_row_even_when_another_process_adopts_it(
    store: Store,
) -> None:
    account = build_account(store)
    bus = InMemoryBus(account.clock)
    tripped, other = (
        await _service(account, bus, Metrics()),
        await _service(account, bus, Metrics()),
    )
    await tripped.evaluate(lambda: (Decimal("-1"), Decimal("15.5")))
    await other.refresh()
    assert other.state is TradingState.KILLED

    (row,) = [
        d for d in await store.list_decisions() if d.decision_type is DecisionType.STATE_CHANGE
    ]
    assert row.final_action == "ACTIVE -> KILLED"
    assert row.principal == "risk.breakers"  # a breaker, not a person
    assert "drawdown" in row.reasoning
    assert row.risk_check["kill_latched_until"] is not None


async def test_a_replay_state_change_is_not_an_account_decision(account: Account) -> None:
    replay = await TradingStateService.load(
        store=account.store, bus=InMemoryBus(account.clock), clock=account.clock, key="replay:x"
    )
    await replay.pause(reason="simulated", minutes=5, by="backtest")
    assert replay.state is TradingState.HALTED
    assert await account.store.list_decisions() == []
    assert any(e.event_type.endswith("state_halted") for e in await account.store.list_events())
