"""risk/states.py: who may tighten or loosen the trading state, and what each state lets through."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from trading_core.domain.errors import TradingError
from trading_core.domain.state import Severity, TradingState
from trading_core.risk.states import (
    KILL_LATCH,
    DailyLossLevel,
    DrawdownTier,
    HumanApprovalRequired,
    InvalidTransition,
    KillSwitchEngaged,
    KillSwitchLatched,
    ReasonRequired,
    StateRecord,
    activate_kill_switch,
    expire,
    halt,
    order_allowed,
    pause,
    reduce,
    reset_kill_switch,
    restore,
    resume,
)

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
ACTIVE = StateRecord.initial(T0)
Builder = Callable[[], StateRecord]


def with_fields(record: StateRecord, **fields: object) -> StateRecord:
    return StateRecord.model_validate(record.model_dump() | fields)


def paused(minutes: int = 60) -> StateRecord:
    return pause(ACTIVE, reason="test pause", minutes=minutes, now=T0, by="operator")[0]


def killed() -> StateRecord:
    return activate_kill_switch(ACTIVE, reason="test kill", now=T0, by="operator")[0]


def reducing(until: datetime | None = None) -> StateRecord:
    return reduce(ACTIVE, reason="test reduce", now=T0, by="operator", until=until)[0]


def halted() -> StateRecord:
    return halt(ACTIVE, reason="test halt", now=T0, by="operator")[0]


# --- order_allowed: every state x (risk-increasing order, risk-reducing order, cancel) ------------

INCREASING = {"reduces_position": False, "is_cancel": False}
REDUCING_ORDER = {"reduces_position": True, "is_cancel": False}
CANCEL = {"reduces_position": False, "is_cancel": True}


@pytest.mark.parametrize(
    ("build", "order", "expected"),
    [
        (lambda: ACTIVE, INCREASING, (True, None)),
        (lambda: ACTIVE, REDUCING_ORDER, (True, None)),
        (lambda: ACTIVE, CANCEL, (True, None)),
        (reducing, INCREASING, (False, "TRADING_REDUCING_ONLY")),
        (reducing, REDUCING_ORDER, (True, None)),
        (reducing, CANCEL, (True, None)),
        (paused, INCREASING, (False, "TRADING_PAUSED")),
        (paused, REDUCING_ORDER, (False, "TRADING_PAUSED")),
        (paused, CANCEL, (True, None)),
        (halted, INCREASING, (False, "TRADING_HALTED")),
        (halted, REDUCING_ORDER, (False, "TRADING_HALTED")),
        (halted, CANCEL, (True, None)),
        (killed, INCREASING, (False, "KILL_SWITCH_ACTIVE")),
        (killed, REDUCING_ORDER, (False, "KILL_SWITCH_ACTIVE")),
        (killed, CANCEL, (True, None)),
    ],
)
def test_each_state_lets_through_only_its_kind_of_order(
    build: Builder, order: dict[str, bool], expected: tuple[bool, str | None]
) -> None:
    record = build()
    assert order_allowed(record, now=T0 + timedelta(minutes=1), **order) == expected


def test_order_allowed_sees_a_pause_that_ended_even_before_expire_is_called() -> None:
    record = paused(minutes=60)

    assert order_allowed(record, now=T0 + timedelta(minutes=59), **INCREASING)[0] is False
    assert order_allowed(record, now=T0 + timedelta(minutes=60), **INCREASING) == (True, None)


# --- tightening ---------------------------------------------------------------------------------


def test_pause_halts_until_now_plus_minutes_and_records_who_and_why() -> None:
    record, events = pause(ACTIVE, reason="news", minutes=30, now=T0, by="agent:momentum")

    assert record.state is TradingState.HALTED
    assert record.until == T0 + timedelta(minutes=30)
    assert (record.reason, record.set_by, record.since) == ("news", "agent:momentum", T0)
    assert [e.details["to_state"] for e in events] == ["HALTED"]


def test_pause_never_shortens_a_longer_pause_but_extends_a_shorter_one() -> None:
    long_pause = paused(minutes=240)

    assert pause(long_pause, reason="short", minutes=60, now=T0, by="x") == (long_pause, [])
    extended, events = pause(paused(60), reason="longer", minutes=120, now=T0, by="x")
    assert extended.until == T0 + timedelta(minutes=120)
    assert len(events) == 1


@pytest.mark.parametrize("build", [killed, halted])
def test_pause_never_downgrades_a_kill_or_an_open_ended_halt(build: Builder) -> None:
    record = build()

    assert pause(record, reason="p", minutes=60, now=T0, by="x") == (record, [])


@pytest.mark.parametrize("minutes", [0, -5])
def test_pause_needs_a_positive_duration(minutes: int) -> None:
    with pytest.raises(InvalidTransition) as info:
        pause(ACTIVE, reason="p", minutes=minutes, now=T0, by="x")
    assert info.value.code == "INVALID_STATE_TRANSITION"


def test_reduce_under_a_pause_takes_over_when_the_pause_ends() -> None:
    record, _ = reduce(paused(60), reason="feed stale", now=T0, by="x")
    assert record.state is TradingState.HALTED

    after, events = expire(record, T0 + timedelta(minutes=60))

    assert after.state is TradingState.REDUCING
    assert after.reason == "feed stale"
    assert [e.details["to_state"] for e in events] == ["REDUCING"]


def test_kill_switch_latches_for_24_hours_and_a_repeat_never_shortens_the_latch() -> None:
    record = killed()
    assert record.kill_switch is True
    assert record.kill_latched_until == T0 + KILL_LATCH

    again, events = activate_kill_switch(
        record, reason="again", now=T0 + timedelta(hours=2), by="x"
    )

    assert again.kill_latched_until == T0 + timedelta(hours=26)
    assert events[0].severity is Severity.CRITICAL


def test_kill_switch_is_never_refused_even_without_a_reason() -> None:
    record, _ = activate_kill_switch(ACTIVE, reason="  ", now=T0, by="x")

    assert record.state is TradingState.KILLED
    assert record.reason


# --- loosening ----------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [paused, halted, reducing])
def test_resume_without_a_person_is_refused(build: Builder) -> None:
    with pytest.raises(HumanApprovalRequired) as info:
        resume(build(), now=T0, by="agent:momentum", human=False)
    assert info.value.code == "HUMAN_APPROVAL_REQUIRED"
    assert isinstance(info.value, TradingError)


@pytest.mark.parametrize("build", [paused, halted, reducing])
def test_a_person_resumes_to_active_and_clears_the_reducing_floor(build: Builder) -> None:
    record, events = resume(build(), now=T0, by="alice", human=True)

    assert record.state is TradingState.ACTIVE
    assert record.reducing_floor is None
    assert record.until is None
    assert events[0].details["by"] == "alice"


def test_resume_cannot_lift_the_kill_switch_even_for_a_person() -> None:
    with pytest.raises(KillSwitchEngaged) as info:
        resume(killed(), now=T0 + timedelta(days=3), by="alice", human=True)
    assert info.value.code == "KILL_SWITCH_ACTIVE"


def test_kill_switch_reset_needs_a_person_and_a_reason() -> None:
    later = T0 + timedelta(days=2)
    with pytest.raises(HumanApprovalRequired):
        reset_kill_switch(killed(), reason="looks fine", now=later, by="bot", human=False)
    with pytest.raises(ReasonRequired) as info:
        reset_kill_switch(killed(), reason="   ", now=later, by="alice", human=True)
    assert info.value.code == "REASON_REQUIRED"


def test_kill_switch_reset_inside_the_latch_needs_an_explicit_override() -> None:
    early = T0 + timedelta(hours=3)
    with pytest.raises(KillSwitchLatched) as info:
        reset_kill_switch(killed(), reason="reviewed", now=early, by="alice", human=True)
    assert info.value.code == "KILL_SWITCH_LATCHED"

    record, events = reset_kill_switch(
        killed(), reason="reviewed", now=early, by="alice", human=True, override_latch=True
    )
    assert record.state is TradingState.ACTIVE
    assert events[0].details["early_override"] is True


def test_kill_switch_reset_after_the_latch_returns_to_active_with_the_reason_recorded() -> None:
    record, events = reset_kill_switch(
        killed(), reason="reviewed fills", now=T0 + KILL_LATCH, by="alice", human=True
    )

    assert record.state is TradingState.ACTIVE
    assert (record.kill_switch, record.kill_latched_until) == (False, None)
    assert (record.reason, record.set_by) == ("reviewed fills", "alice")
    assert events[0].details["early_override"] is False


def test_kill_switch_reset_lands_on_a_reducing_floor_still_in_force() -> None:
    record, _ = reduce(killed(), reason="fail closed", now=T0, by="risk")

    after, _ = reset_kill_switch(record, reason="ok", now=T0 + KILL_LATCH, by="alice", human=True)

    assert after.state is TradingState.REDUCING
    assert after.reason == "fail closed"


# --- expiry -------------------------------------------------------------------------------------


def test_an_ended_pause_returns_to_active() -> None:
    record, events = expire(paused(60), T0 + timedelta(minutes=61))

    assert record.state is TradingState.ACTIVE
    assert record.until is None
    assert events[0].severity is Severity.INFO


def test_a_pause_that_has_not_ended_is_left_alone() -> None:
    record = paused(60)

    assert expire(record, T0 + timedelta(minutes=59)) == (record, [])


def test_a_timed_reducing_period_ends_on_time_but_an_open_ended_one_waits_for_a_person() -> None:
    timed = reducing(until=T0 + timedelta(hours=8))
    open_ended = reducing()
    much_later = T0 + timedelta(days=30)

    assert expire(timed, much_later)[0].state is TradingState.ACTIVE
    assert expire(open_ended, much_later)[0].state is TradingState.REDUCING


def test_kill_switch_survives_expiry_however_late() -> None:
    record = killed()

    after, events = expire(record, T0 + timedelta(days=365))

    assert after.state is TradingState.KILLED
    assert events == []


def test_session_end_resets_the_daily_level() -> None:
    record = with_fields(
        ACTIVE, daily_level=DailyLossLevel.WARNING, session_end=T0 + timedelta(hours=1)
    )

    after, _ = expire(record, T0 + timedelta(hours=1))

    assert (after.daily_level, after.session_end) == (DailyLossLevel.NORMAL, None)


# --- persistence --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [lambda: ACTIVE, paused, halted, killed, lambda: reducing(T0 + timedelta(hours=2))],
)
def test_every_state_survives_a_json_round_trip_exactly(build: Builder) -> None:
    record = with_fields(build(), breaker_tier=DrawdownTier.PAUSE_4H, session_end=T0)

    text = json.dumps(record.to_json_dict())
    restored = StateRecord.from_json_dict(json.loads(text))

    assert restored == record
    assert restored.to_json_dict() == record.to_json_dict()


def test_a_killed_record_is_still_killed_after_a_restart() -> None:
    stored = json.loads(json.dumps(killed().to_json_dict()))

    record, events = restore(stored, now=T0 + timedelta(hours=1))

    assert record.state is TradingState.KILLED
    assert order_allowed(record, now=T0 + timedelta(hours=1), **REDUCING_ORDER) == (
        False,
        "KILL_SWITCH_ACTIVE",
    )
    assert events == []


def test_a_first_start_with_nothing_stored_is_active() -> None:
    assert restore(None, now=T0)[0].state is TradingState.ACTIVE


@pytest.mark.parametrize(
    "corrupt",
    [
        {"state": "KILLED", "since": T0.isoformat(), "kill_switch": False},
        {"state": "ACTIVE", "since": "yesterday"},
        {"state": "ACTIVE", "since": T0.isoformat(), "bypass": True},
        {},
    ],
)
def test_an_unreadable_stored_state_restores_as_halted_with_a_critical_event(
    corrupt: dict[str, object],
) -> None:
    record, events = restore(corrupt, now=T0)

    assert record.state is TradingState.HALTED
    assert record.until is None
    assert [e.severity for e in events] == [Severity.CRITICAL]
