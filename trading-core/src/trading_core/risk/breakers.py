"""Portfolio circuit breakers: daily loss and drawdown, over the trading-state machine.

Inputs are percentages as Decimals: ``daily_pnl_pct`` is signed P&L since start-of-day equity
(``-3`` is a 3 % loss); ``drawdown_pct`` is the distance below the high-water mark, marked to
market, as a non-negative number (``5`` is 5 % below the peak).

Thresholds are a :class:`BreakerLimits` (``thresholds``): the hard values of ``limits`` quoted
below, unless configuration tightened them (``[breakers]`` in ``risk_limits.toml``; never looser).

- Daily loss: -2 % emits a warning once per session; -3 % is critical and sets REDUCING until the
  session ends. The session end is the ``session_end`` argument at the first evaluation of a
  session, by default the next 00:00 UTC (a 24/7 crypto day); equity callers pass the close.
- Drawdown: 5 % pauses 1 h, 10 % pauses 4 h, 15 % fires the kill switch (a latch of at least
  24 h; a person lifts it). A higher tier replaces a lower one, never the reverse. A tripped tier
  re-arms only once the drawdown is below its threshold minus ``REARM_BAND_PCT``, so a value
  flapping around a threshold trips once.
- Fail closed: a missing, NaN, infinite or negative input, or any exception inside the metric or
  breaker code (``evaluate_safely``), sets REDUCING with a critical event. That REDUCING has no
  end: a person resumes after checking the metrics. REDUCING, not HALTED, so positions can still be
  cut while the numbers cannot be trusted; a kill or pause already in force stays in force.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Final, TypeGuard

from trading_core.domain.state import Severity, SystemEvent
from trading_core.risk import limits
from trading_core.risk.breaker_config import BreakerLimits
from trading_core.risk.states import (
    DailyLossLevel,
    DrawdownTier,
    Outcome,
    StateRecord,
    activate_kill_switch,
    expire,
    pause,
    reduce,
)

HARD_THRESHOLDS: Final = BreakerLimits()
"""The hard values of ``limits``: what the breakers use when nothing tightened them."""
_TIERS: Final = (DrawdownTier.PAUSE_1H, DrawdownTier.PAUSE_4H, DrawdownTier.KILL)

# The hard values by name, as before they moved to ``limits`` (the one module of hard values).
DAILY_LOSS_WARNING_PCT: Final = limits.DAILY_LOSS_WARNING_PCT
DAILY_LOSS_CRITICAL_PCT: Final = limits.DAILY_LOSS_CRITICAL_PCT
DRAWDOWN_THRESHOLD_PCT: Final[dict[DrawdownTier, Decimal]] = {
    tier: HARD_THRESHOLDS.drawdown_pct(tier) for tier in _TIERS
}
DRAWDOWN_PAUSE_MINUTES: Final[dict[DrawdownTier, int]] = {
    tier: HARD_THRESHOLDS.pause_minutes(tier) for tier in _TIERS[:2]
}
REARM_BAND_PCT: Final = limits.REARM_BAND_PCT
"""A tripped drawdown tier re-arms below its threshold minus this many percentage points."""

BREAKER: Final = "risk.breakers"

MetricsComputation = Callable[[], tuple[Decimal | None, Decimal | None]]

_DAILY_RANK: Final = {
    DailyLossLevel.NORMAL: 0,
    DailyLossLevel.WARNING: 1,
    DailyLossLevel.CRITICAL: 2,
}


def next_utc_midnight(now: datetime) -> datetime:
    """The default session end: the next 00:00 UTC strictly after ``now``."""
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), tzinfo=UTC)


def evaluate_breakers(
    record: StateRecord,
    *,
    daily_pnl_pct: Decimal | None,
    drawdown_pct: Decimal | None,
    now: datetime,
    session_end: datetime | None = None,
    thresholds: BreakerLimits = HARD_THRESHOLDS,
) -> Outcome:
    """Expire what has ended, then trip whatever the metrics call for; fail closed on bad input.

    A valid metric is still applied when the other one is invalid: failing closed never prevents
    a stricter trip. ``thresholds`` are the effective (possibly tightened) breaker values.
    """
    record, events = expire(record, now)
    problems: list[str] = []
    if _usable(daily_pnl_pct):
        record, more = _apply_daily(record, daily_pnl_pct, now, session_end, thresholds)
        events += more
    else:
        problems.append(f"daily P&L unusable: {daily_pnl_pct!r}")
    if _usable(drawdown_pct) and drawdown_pct >= 0:
        record, more = _apply_drawdown(record, drawdown_pct, now, thresholds)
        events += more
    else:
        problems.append(f"drawdown unusable: {drawdown_pct!r}")
    if problems:
        record, more = fail_closed(record, reason="; ".join(problems), now=now)
        events += more
    return record, events


def evaluate_safely(
    compute: MetricsComputation,
    record: StateRecord,
    now: datetime,
    *,
    session_end: datetime | None = None,
    thresholds: BreakerLimits = HARD_THRESHOLDS,
) -> Outcome:
    """Compute ``(daily_pnl_pct, drawdown_pct)`` and evaluate; any exception fails closed."""
    try:
        daily_pnl_pct, drawdown_pct = compute()
        return evaluate_breakers(
            record,
            daily_pnl_pct=daily_pnl_pct,
            drawdown_pct=drawdown_pct,
            now=now,
            session_end=session_end,
            thresholds=thresholds,
        )
    # The one deliberate broad catch: whatever broke (a bug, a missing price, a division by zero),
    # the breakers could not run, and "log it and keep trading" is the failure this guards
    # against. BaseException (cancellation, KeyboardInterrupt) still propagates.
    except Exception as exc:  # noqa: BLE001
        return fail_closed(record, reason=f"breaker evaluation failed: {exc!r}", now=now)


def fail_closed(record: StateRecord, *, reason: str, now: datetime) -> Outcome:
    """REDUCING until a person resumes (unless something stricter holds), with a critical event."""
    new, events = reduce(record, reason=f"fail closed: {reason}", now=now, by=BREAKER)
    alarm = _event(now, "fail_closed", Severity.CRITICAL, f"risk metrics unavailable: {reason}")
    return new, [alarm, *events]


def drawdown_tier(
    drawdown_pct: Decimal, thresholds: BreakerLimits = HARD_THRESHOLDS
) -> DrawdownTier:
    """The highest tier whose threshold ``drawdown_pct`` reaches."""
    reached = [t for t in _TIERS if drawdown_pct >= thresholds.drawdown_pct(t)]
    return max(reached, default=DrawdownTier.NONE)


def _apply_drawdown(
    record: StateRecord, drawdown_pct: Decimal, now: datetime, thresholds: BreakerLimits
) -> Outcome:
    latched = record.breaker_tier
    while (
        latched is not DrawdownTier.NONE
        and drawdown_pct < thresholds.drawdown_pct(latched) - REARM_BAND_PCT
    ):
        latched = DrawdownTier(latched - 1)
    reached = drawdown_tier(drawdown_pct, thresholds)
    if reached <= latched:
        return _with_tier(record, latched), []
    record = _with_tier(record, reached)
    threshold = thresholds.drawdown_pct(reached)
    reason = f"drawdown {drawdown_pct}% reached the {threshold}% breaker"
    severity = Severity.CRITICAL if reached is DrawdownTier.KILL else Severity.WARNING
    trip = _event(
        now, "drawdown", severity, reason, tier=reached.name, drawdown_pct=str(drawdown_pct)
    )
    if reached is DrawdownTier.KILL:
        record, events = activate_kill_switch(
            record, reason=reason, now=now, by=BREAKER, latch=thresholds.kill_latch
        )
    else:
        minutes = thresholds.pause_minutes(reached)
        record, events = pause(record, reason=reason, minutes=minutes, now=now, by=BREAKER)
    return record, [trip, *events]


def _apply_daily(
    record: StateRecord,
    daily_pnl_pct: Decimal,
    now: datetime,
    session_end: datetime | None,
    thresholds: BreakerLimits,
) -> Outcome:
    if record.session_end is None:
        end = session_end if session_end is not None else next_utc_midnight(now)
        record = record.model_validate(record.model_dump() | {"session_end": end})
    level = DailyLossLevel.NORMAL
    if daily_pnl_pct <= thresholds.daily_loss_critical_pct:
        level = DailyLossLevel.CRITICAL
    elif daily_pnl_pct <= thresholds.daily_loss_warning_pct:
        level = DailyLossLevel.WARNING
    if _DAILY_RANK[level] <= _DAILY_RANK[record.daily_level]:
        return record, []  # levels only escalate within a session
    record = record.model_validate(record.model_dump() | {"daily_level": level})
    reason = f"daily P&L {daily_pnl_pct}% from start-of-day equity"
    if level is DailyLossLevel.WARNING:
        return record, [_event(now, "daily_loss", Severity.WARNING, f"{reason}: warning")]
    alarm = _event(now, "daily_loss", Severity.CRITICAL, f"{reason}: reducing for the session")
    record, events = reduce(
        record,
        reason=f"{reason} breached the critical limit",
        now=now,
        by=BREAKER,
        until=record.session_end,
    )
    return record, [alarm, *events]


def _with_tier(record: StateRecord, tier: DrawdownTier) -> StateRecord:
    if record.breaker_tier is tier:
        return record
    return record.model_validate(record.model_dump() | {"breaker_tier": tier})


def _usable(value: Decimal | None) -> TypeGuard[Decimal]:
    return isinstance(value, Decimal) and value.is_finite()


def _event(
    now: datetime, kind: str, severity: Severity, message: str, **details: str
) -> SystemEvent:
    return SystemEvent(
        timestamp=now,
        event_type=f"breaker.{kind}",
        component=BREAKER,
        severity=severity,
        message=message,
        details=details,
    )
