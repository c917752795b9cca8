"""risk/breakers.py: daily-loss and drawdown breakers, hysteresis, and failing closed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading_core.domain.state import Severity, SystemEvent, TradingState
from trading_core.risk.breakers import (
    DRAWDOWN_THRESHOLD_PCT,
    REARM_BAND_PCT,
    MetricsComputation,
    evaluate_breakers,
    evaluate_safely,
    next_utc_midnight,
)
from trading_core.risk.states import (
    KILL_LATCH,
    DailyLossLevel,
    DrawdownTier,
    StateRecord,
    expire,
    order_allowed,
    pause,
    reset_kill_switch,
    resume,
)

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
SESSION_END = datetime(2024, 3, 1, 21, 0, tzinfo=UTC)
ACTIVE = StateRecord.initial(T0)


def evaluate(
    record: StateRecord,
    *,
    drawdown: str | None = "0",
    daily: str | None = "0",
    at: datetime = T0,
) -> tuple[StateRecord, list[SystemEvent]]:
    return evaluate_breakers(
        record,
        daily_pnl_pct=None if daily is None else Decimal(daily),
        drawdown_pct=None if drawdown is None else Decimal(drawdown),
        now=at,
        session_end=SESSION_END,
    )


def breaker_trips(events: list[SystemEvent]) -> list[SystemEvent]:
    return [e for e in events if e.event_type == "breaker.drawdown"]


# --- drawdown tiers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drawdown", "state", "until", "tier"),
    [
        ("4.99", TradingState.ACTIVE, None, DrawdownTier.NONE),
        ("5", TradingState.HALTED, T0 + timedelta(hours=1), DrawdownTier.PAUSE_1H),
        ("9.99", TradingState.HALTED, T0 + timedelta(hours=1), DrawdownTier.PAUSE_1H),
        ("10", TradingState.HALTED, T0 + timedelta(hours=4), DrawdownTier.PAUSE_4H),
        ("14.99", TradingState.HALTED, T0 + timedelta(hours=4), DrawdownTier.PAUSE_4H),
        ("15", TradingState.KILLED, None, DrawdownTier.KILL),
        ("60", TradingState.KILLED, None, DrawdownTier.KILL),
    ],
)
def test_each_drawdown_tier_trips_with_its_state_and_end(
    drawdown: str, state: TradingState, until: datetime | None, tier: DrawdownTier
) -> None:
    record, _ = evaluate(ACTIVE, drawdown=drawdown)

    assert (record.state, record.until, record.breaker_tier) == (state, until, tier)


def test_the_drawdown_kill_latches_24_hours_and_only_a_person_lifts_it() -> None:
    record, events = evaluate(ACTIVE, drawdown="15.5")

    assert record.kill_latched_until == T0 + KILL_LATCH
    assert Severity.CRITICAL in {e.severity for e in events}
    later = T0 + timedelta(days=3)
    assert evaluate(record, drawdown="0", at=later)[0].state is TradingState.KILLED
    lifted, _ = reset_kill_switch(record, reason="reviewed", now=later, by="alice", human=True)
    assert lifted.state is TradingState.ACTIVE


def test_a_higher_tier_replaces_a_lower_one() -> None:
    one_hour, _ = evaluate(ACTIVE, drawdown="5.5")
    four_hours, _ = evaluate(one_hour, drawdown="10.5", at=T0 + timedelta(minutes=10))
    killed, _ = evaluate(four_hours, drawdown="15.5", at=T0 + timedelta(minutes=20))

    assert four_hours.until == T0 + timedelta(minutes=10, hours=4)
    assert four_hours.breaker_tier is DrawdownTier.PAUSE_4H
    assert killed.state is TradingState.KILLED


def test_a_lower_tier_never_replaces_a_higher_one() -> None:
    four_hours, _ = evaluate(ACTIVE, drawdown="10.5")

    later, events = evaluate(four_hours, drawdown="6", at=T0 + timedelta(minutes=30))

    assert (later.state, later.until, later.reason) == (
        four_hours.state,
        four_hours.until,
        four_hours.reason,
    )
    assert events == []


def test_a_re_armed_lower_tier_tripping_inside_a_longer_pause_does_not_shorten_it() -> None:
    four_hours, _ = evaluate(ACTIVE, drawdown="10.5")
    recovered, _ = evaluate(four_hours, drawdown="1", at=T0 + timedelta(minutes=10))
    retripped, _ = evaluate(recovered, drawdown="5.5", at=T0 + timedelta(minutes=20))

    assert recovered.breaker_tier is DrawdownTier.NONE
    assert retripped.state is TradingState.HALTED
    assert retripped.until == four_hours.until


def test_a_drawdown_flapping_around_5_percent_trips_once_per_excursion() -> None:
    # Band is 1 point: after a trip at 5 the tier re-arms only below 4.
    assert Decimal("1") == REARM_BAND_PCT
    record = ACTIVE
    trips = 0
    for minute, value in enumerate(["4.9", "5.1", "4.8", "5.2", "3.5", "5.1"]):
        # A person resumes after each pause so that only the breaker decides what trips.
        if record.state is TradingState.HALTED:
            record, _ = resume(record, now=T0, by="alice", human=True)
        record, events = evaluate(record, drawdown=value, at=T0 + timedelta(minutes=minute))
        trips += len(breaker_trips(events))

    assert trips == 2


@pytest.mark.parametrize(
    ("tier", "still_latched", "re_armed"),
    [
        (DrawdownTier.PAUSE_1H, "4", "3.99"),
        (DrawdownTier.PAUSE_4H, "9", "8.99"),
        (DrawdownTier.KILL, "14", "13.99"),
    ],
)
def test_a_tier_re_arms_only_below_its_threshold_minus_the_band(
    tier: DrawdownTier, still_latched: str, re_armed: str
) -> None:
    assert DRAWDOWN_THRESHOLD_PCT[tier] - REARM_BAND_PCT == Decimal(still_latched)
    record = StateRecord.model_validate(ACTIVE.model_dump() | {"breaker_tier": tier})

    assert evaluate(record, drawdown=still_latched)[0].breaker_tier is tier
    assert evaluate(record, drawdown=re_armed)[0].breaker_tier < tier


def test_a_pause_from_the_breaker_ends_and_does_not_retrip_while_the_drawdown_stays() -> None:
    paused, _ = evaluate(ACTIVE, drawdown="5.5")

    after, events = evaluate(paused, drawdown="5.5", at=T0 + timedelta(hours=1))

    assert after.state is TradingState.ACTIVE
    assert breaker_trips(events) == []


# --- daily loss ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("daily", "state", "level", "severities"),
    [
        ("-1.99", TradingState.ACTIVE, DailyLossLevel.NORMAL, []),
        ("-2", TradingState.ACTIVE, DailyLossLevel.WARNING, [Severity.WARNING]),
        ("-2.99", TradingState.ACTIVE, DailyLossLevel.WARNING, [Severity.WARNING]),
        ("-3", TradingState.REDUCING, DailyLossLevel.CRITICAL, [Severity.CRITICAL]),
        ("-12", TradingState.REDUCING, DailyLossLevel.CRITICAL, [Severity.CRITICAL]),
    ],
)
def test_daily_loss_warns_at_2_percent_and_reduces_at_3(
    daily: str, state: TradingState, level: DailyLossLevel, severities: list[Severity]
) -> None:
    record, events = evaluate(ACTIVE, daily=daily)

    assert (record.state, record.daily_level) == (state, level)
    assert [e.severity for e in events if e.event_type == "breaker.daily_loss"] == severities


def test_daily_loss_reducing_lasts_exactly_until_the_session_ends() -> None:
    record, _ = evaluate(ACTIVE, daily="-3.5")
    assert record.until == SESSION_END

    recovered, _ = evaluate(record, daily="1", at=SESSION_END - timedelta(seconds=1))
    next_session, _ = evaluate(record, daily="0", at=SESSION_END)

    assert recovered.state is TradingState.REDUCING
    assert next_session.state is TradingState.ACTIVE
    assert next_session.daily_level is DailyLossLevel.NORMAL


def test_the_daily_warning_is_raised_once_per_session() -> None:
    record, first = evaluate(ACTIVE, daily="-2.1")
    _, second = evaluate(record, daily="-2.4", at=T0 + timedelta(minutes=5))

    assert len(first) == 1
    assert second == []


def test_default_session_end_is_the_next_utc_midnight() -> None:
    record, _ = evaluate_breakers(
        ACTIVE, daily_pnl_pct=Decimal("-4"), drawdown_pct=Decimal(0), now=T0
    )

    assert record.until == datetime(2024, 3, 2, tzinfo=UTC) == next_utc_midnight(T0)


def test_a_daily_reduce_under_a_breaker_pause_takes_over_when_the_pause_ends() -> None:
    record, _ = evaluate(ACTIVE, drawdown="5.5", daily="-3.5")
    assert record.state is TradingState.HALTED

    after, _ = expire(record, T0 + timedelta(hours=1))

    assert after.state is TradingState.REDUCING
    assert after.until == SESSION_END


# --- fail closed --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("daily", "drawdown"),
    [(None, "0"), ("0", None), ("NaN", "0"), ("0", "sNaN"), ("0", "Infinity"), ("0", "-1")],
)
def test_unusable_metrics_fail_closed_to_reducing_with_a_critical_event(
    daily: str | None, drawdown: str | None
) -> None:
    record, events = evaluate(ACTIVE, daily=daily, drawdown=drawdown)

    assert record.state is TradingState.REDUCING
    assert record.until is None  # until a person has checked the numbers
    assert any(
        e.event_type == "breaker.fail_closed" and e.severity is Severity.CRITICAL for e in events
    )
    assert order_allowed(record, reduces_position=False, is_cancel=False, now=T0)[0] is False


def test_a_failed_metric_still_lets_the_other_one_trip_something_stricter() -> None:
    record, _ = evaluate(ACTIVE, daily=None, drawdown="15")

    assert record.state is TradingState.KILLED
    assert record.reducing_floor is not None


def _raises() -> tuple[Decimal | None, Decimal | None]:
    raise ZeroDivisionError("equity is zero")


def _garbage() -> tuple[Decimal | None, Decimal | None]:
    return "five", Decimal(1)  # type: ignore[return-value]


@pytest.mark.parametrize("compute", [_raises, _garbage, lambda: (Decimal(0),)])
def test_any_exception_while_evaluating_fails_closed(compute: MetricsComputation) -> None:
    record, events = evaluate_safely(compute, ACTIVE, T0)

    assert record.state is TradingState.REDUCING
    assert [e.severity for e in events].count(Severity.CRITICAL) >= 1


def test_evaluate_safely_applies_good_metrics_like_evaluate_breakers() -> None:
    record, _ = evaluate_safely(lambda: (Decimal(0), Decimal("10.5")), ACTIVE, T0)

    assert record.state is TradingState.HALTED
    assert record.until == T0 + timedelta(hours=4)


def test_failing_closed_never_loosens_a_stricter_state() -> None:
    halted, _ = pause(ACTIVE, reason="p", minutes=60, now=T0, by="x")
    killed, _ = evaluate(ACTIVE, drawdown="20")

    assert evaluate_safely(_raises, halted, T0)[0].state is TradingState.HALTED
    assert evaluate_safely(_raises, killed, T0)[0].state is TradingState.KILLED


def test_fail_closed_reducing_does_not_end_by_itself_when_metrics_recover() -> None:
    record, _ = evaluate_safely(_raises, ACTIVE, T0)

    later, _ = evaluate(record, at=T0 + timedelta(days=2))

    assert later.state is TradingState.REDUCING


# --- the kill switch survives everything but a person -------------------------------------------


def test_killed_survives_breaker_evaluations_expiry_and_a_json_round_trip() -> None:
    record, _ = evaluate(ACTIVE, drawdown="16")
    for hours in (1, 24, 100):
        record, _ = evaluate(record, drawdown="0", daily="5", at=T0 + timedelta(hours=hours))
        record, _ = expire(record, T0 + timedelta(hours=hours))
        record = StateRecord.from_json_dict(json.loads(json.dumps(record.to_json_dict())))

    assert record.state is TradingState.KILLED
    assert record.kill_switch is True
