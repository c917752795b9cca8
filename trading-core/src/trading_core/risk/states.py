"""The trading-state machine: one frozen record of what may trade, and pure transitions over it.

Tightening (``pause``, ``halt``, ``reduce``, ``activate_kill_switch``) is open to anyone, person or
program, and never loosens anything already in force. Loosening needs a person (``resume``,
``reset_kill_switch``), except the one time-based path, ``expire``: a timed pause ends at its
``until``, a session-long REDUCING ends with the session. Every transition returns the new record
and the audit events it caused; an unchanged record comes back with no events.

A REDUCING restriction can sit underneath a pause or the kill switch (the *reducing floor*): when
the pause ends, or a person resets the kill switch, the system returns to that floor, not ACTIVE.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any, Final

from pydantic import ValidationError, model_validator

from trading_core.domain.base import Frozen, UtcDatetime
from trading_core.domain.errors import TradingError
from trading_core.domain.state import Severity, SystemEvent, TradingState
from trading_core.risk import limits

KILL_LATCH: Final = timedelta(hours=limits.KILL_LATCH_HOURS)
"""Minimum time the kill switch stays latched before a person may reset it without an override.
Configuration may lengthen it (``BreakerLimits.kill_latch``), never shorten it."""
SYSTEM: Final = "system"
COMPONENT: Final = "risk.states"
_UNTIMED: Final = (TradingState.ACTIVE, TradingState.KILLED)

TRADING_PAUSED: Final = "TRADING_PAUSED"
TRADING_HALTED: Final = "TRADING_HALTED"
TRADING_REDUCING_ONLY: Final = "TRADING_REDUCING_ONLY"
KILL_SWITCH_ACTIVE: Final = "KILL_SWITCH_ACTIVE"


class HumanApprovalRequired(TradingError):
    """A loosening (resume, kill-switch reset) was attempted by a program, not a person."""

    code = "HUMAN_APPROVAL_REQUIRED"


class KillSwitchEngaged(TradingError):
    """``resume`` cannot lift the kill switch; only ``reset_kill_switch`` can."""

    code = KILL_SWITCH_ACTIVE


class KillSwitchLatched(TradingError):
    """A reset inside the kill-switch latch without the explicit ``override_latch``."""

    code = "KILL_SWITCH_LATCHED"


class ReasonRequired(TradingError):
    code = "REASON_REQUIRED"


class InvalidTransition(TradingError):
    code = "INVALID_STATE_TRANSITION"


class DrawdownTier(IntEnum):
    """Highest drawdown breaker tier that has tripped and not yet re-armed."""

    NONE = 0
    PAUSE_1H = 1
    PAUSE_4H = 2
    KILL = 3


class DailyLossLevel(StrEnum):
    NORMAL = "normal"
    WARNING = "warning"
    CRITICAL = "critical"


class ReducingFloor(Frozen):
    """A REDUCING restriction that outlives pauses; ``until`` None means until a person resumes."""

    reason: str
    until: UtcDatetime | None = None
    set_by: str = SYSTEM


class StateRecord(Frozen):
    """The persisted trading state. ``until`` is the end of a timed HALTED or REDUCING state."""

    state: TradingState = TradingState.ACTIVE
    reason: str = ""
    since: UtcDatetime
    until: UtcDatetime | None = None
    set_by: str = SYSTEM
    kill_switch: bool = False
    kill_latched_until: UtcDatetime | None = None
    reducing_floor: ReducingFloor | None = None
    breaker_tier: DrawdownTier = DrawdownTier.NONE
    daily_level: DailyLossLevel = DailyLossLevel.NORMAL
    session_end: UtcDatetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> StateRecord:
        # A restored record that breaks these is corrupt; refusing it beats trading on it.
        if self.kill_switch != (self.state is TradingState.KILLED):
            raise ValueError("kill_switch must be set exactly when the state is KILLED")
        if self.kill_switch and self.kill_latched_until is None:
            raise ValueError("an active kill switch needs kill_latched_until")
        if self.state is TradingState.REDUCING and self.reducing_floor is None:
            raise ValueError("a REDUCING state needs its reducing_floor")
        if self.state is TradingState.ACTIVE and self.reducing_floor is not None:
            raise ValueError("an ACTIVE state cannot have a reducing_floor")
        if self.until is not None and self.state in _UNTIMED:
            raise ValueError(f"{self.state} has no until")
        return self

    @classmethod
    def initial(cls, now: datetime) -> StateRecord:
        """A fresh ACTIVE record, for a first start with nothing persisted."""
        return cls(since=now, reason="initial state")

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-safe dict for the key/value store; ``from_json_dict`` restores it exactly."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> StateRecord:
        """Restore a dumped record; raises pydantic ``ValidationError`` if it is corrupt."""
        return cls.model_validate(dict(data))


Outcome = tuple[StateRecord, list[SystemEvent]]
"""What every transition returns: the new record and the audit events it caused."""


def restore(data: Mapping[str, Any] | None, *, now: datetime) -> Outcome:
    """Record to start with: the persisted one, ACTIVE if none, HALTED (indefinitely) if corrupt."""
    if data is None:
        return StateRecord.initial(now), []
    try:
        return StateRecord.from_json_dict(data), []
    except ValidationError as exc:
        # Fail closed: a latched kill switch may be hiding in the unreadable row.
        record = StateRecord(
            state=TradingState.HALTED, reason="persisted state unreadable", since=now
        )
        event = _event(now, "state_corrupt", Severity.CRITICAL, record.reason, error=str(exc))
        return record, [event]


def pause(record: StateRecord, *, reason: str, minutes: int, now: datetime, by: str) -> Outcome:
    """HALTED until ``now + minutes``. Never shortens a longer pause, never lifts a kill or halt."""
    if minutes <= 0:
        raise InvalidTransition(f"a pause needs a positive number of minutes, got {minutes}")
    until = now + timedelta(minutes=minutes)
    if record.state is TradingState.KILLED:
        return record, []
    if record.state is TradingState.HALTED and (record.until is None or record.until >= until):
        return record, []
    new = _set(record, TradingState.HALTED, reason=reason, now=now, by=by, until=until)
    return new, [_transition_event(record, new, Severity.WARNING)]


def halt(record: StateRecord, *, reason: str, now: datetime, by: str) -> Outcome:
    """HALTED with no end: only cancels pass until a person resumes."""
    if record.state is TradingState.KILLED or (
        record.state is TradingState.HALTED and record.until is None
    ):
        return record, []
    new = _set(record, TradingState.HALTED, reason=reason, now=now, by=by)
    return new, [_transition_event(record, new, Severity.CRITICAL)]


def reduce(
    record: StateRecord, *, reason: str, now: datetime, by: str, until: datetime | None = None
) -> Outcome:
    """REDUCING until ``until`` (None: until a person resumes); under a pause or kill, it waits."""
    floor = ReducingFloor(reason=reason, until=until, set_by=by)
    old = record.reducing_floor
    if old is not None and (old.until is None or (until is not None and old.until >= until)):
        return record, []  # an equal or longer floor is already in force
    if record.state in (TradingState.ACTIVE, TradingState.REDUCING):
        new = _set(
            record,
            TradingState.REDUCING,
            reason=reason,
            now=now,
            by=by,
            until=until,
            reducing_floor=floor,
        )
        return new, [_transition_event(record, new, Severity.WARNING)]
    event = _event(now, "reducing_floor_set", Severity.WARNING, reason, by=by, until=_iso(until))
    return _derive(record, reducing_floor=floor), [event]


def activate_kill_switch(
    record: StateRecord,
    *,
    reason: str,
    now: datetime,
    by: str,
    latch: timedelta = KILL_LATCH,
) -> Outcome:
    """KILLED, latched for ``latch`` (at least 24 h). Always allowed; a repeat only extends it."""
    latched_until = now + max(latch, KILL_LATCH)  # a shorter latch would loosen: ignored
    if record.kill_latched_until is not None:
        latched_until = max(latched_until, record.kill_latched_until)
    reason = reason.strip() or "no reason given"  # a kill is never refused, not even for this
    new = _set(
        record,
        TradingState.KILLED,
        reason=reason,
        now=now,
        by=by,
        kill_switch=True,
        kill_latched_until=latched_until,
    )
    event = _transition_event(record, new, Severity.CRITICAL, latched_until=_iso(latched_until))
    return new, [event]


def reset_kill_switch(
    record: StateRecord,
    *,
    reason: str,
    now: datetime,
    by: str,
    human: bool,
    override_latch: bool = False,
) -> Outcome:
    """Lift the kill switch: a person, with a reason, after the latch (or ``override_latch``).

    The system returns to its reducing floor if one is still in force, else ACTIVE. The drawdown
    tier is kept, so the same drawdown episode does not kill again at once (hysteresis).
    """
    if not human:
        raise HumanApprovalRequired("only a person can reset the kill switch")
    if not reason.strip():
        raise ReasonRequired("resetting the kill switch needs a reason (what was reviewed)")
    if record.state is not TradingState.KILLED:
        return record, []
    latched_until = record.kill_latched_until
    early = latched_until is not None and now < latched_until
    if early and not override_latch:
        latched = f"kill switch latched until {_iso(latched_until)}"
        raise KillSwitchLatched(
            f"{latched}; pass override_latch after review",
            cli_message=f"{latched}; add --override-latch after review",
        )
    new = _rest(record, now=now, reason=reason, by=by, kill_switch=False, kill_latched_until=None)
    return new, [_transition_event(record, new, Severity.CRITICAL, early_override=early)]


def resume(
    record: StateRecord, *, now: datetime, by: str, human: bool, reason: str = "resumed by a person"
) -> Outcome:
    """ACTIVE again, clearing any pause, halt or reducing floor. A person only; not from KILLED."""
    if not human:
        raise HumanApprovalRequired("only a person can resume trading")
    if record.state is TradingState.KILLED:
        raise KillSwitchEngaged(
            "the kill switch is active; reset it with reset_kill_switch",
            cli_message="the kill switch is active; a person resets it with "
            "`trading-core kill-switch reset --reason ...`",
        )
    if record.state is TradingState.ACTIVE and record.reducing_floor is None:
        return record, []
    new = _set(record, TradingState.ACTIVE, reason=reason, now=now, by=by, reducing_floor=None)
    return new, [_transition_event(record, new, Severity.WARNING)]


def expire(record: StateRecord, now: datetime) -> Outcome:
    """Apply the passage of time: pauses and session limits whose end passed. KILLED stays."""
    new = record
    if new.session_end is not None and now >= new.session_end:
        new = _derive(new, daily_level=DailyLossLevel.NORMAL, session_end=None)
    floor = new.reducing_floor
    floor_live = floor is not None and (floor.until is None or now < floor.until)
    ended = new.until is not None and now >= new.until
    if ended or (new.state is TradingState.REDUCING and not floor_live):
        new = _rest(new, now=now, reason=f"{record.state} period ended", by=SYSTEM)
    elif floor is not None and not floor_live:
        new = _derive(new, reducing_floor=None)  # lapsed beneath a kill or an open-ended halt
    if new.state is record.state:
        return new, []
    return new, [_transition_event(record, new, Severity.INFO)]


def order_allowed(
    record: StateRecord, *, reduces_position: bool, is_cancel: bool, now: datetime
) -> tuple[bool, str | None]:
    """May this order leave now? Cancels always may; the record is first expired to ``now``."""
    if is_cancel:
        return True, None
    current, _ = expire(record, now)
    if current.kill_switch or current.state is TradingState.KILLED:
        return False, KILL_SWITCH_ACTIVE
    if current.state is TradingState.HALTED:
        return False, TRADING_PAUSED if current.until is not None else TRADING_HALTED
    if current.state is TradingState.REDUCING and not reduces_position:
        return False, TRADING_REDUCING_ONLY
    return True, None


def _rest(record: StateRecord, *, now: datetime, reason: str, by: str, **extra: Any) -> StateRecord:
    """Where a lifted pause or kill lands: the reducing floor if still in force, else ACTIVE."""
    floor = record.reducing_floor
    if floor is not None and (floor.until is None or now < floor.until):
        return _set(
            record,
            TradingState.REDUCING,
            reason=floor.reason,
            now=now,
            by=floor.set_by,
            until=floor.until,
            **extra,
        )
    return _set(
        record, TradingState.ACTIVE, reason=reason, now=now, by=by, reducing_floor=None, **extra
    )


def _set(
    record: StateRecord,
    state: TradingState,
    *,
    reason: str,
    now: datetime,
    by: str,
    until: datetime | None = None,
    **extra: Any,
) -> StateRecord:
    return _derive(record, state=state, reason=reason, since=now, until=until, set_by=by, **extra)


def _derive(record: StateRecord, **update: Any) -> StateRecord:
    # model_copy(update=...) skips validation; re-validating keeps naive datetimes and broken
    # invariants out of a record that will be persisted.
    fields = {name: getattr(record, name) for name in StateRecord.model_fields}
    return StateRecord.model_validate(fields | update)


def _transition_event(
    old: StateRecord, new: StateRecord, severity: Severity, **details: Any
) -> SystemEvent:
    message = f"trading state {old.state} -> {new.state}: {new.reason}"
    return _event(
        new.since,
        f"state_{new.state.lower()}",
        severity,
        message,
        from_state=str(old.state),
        to_state=str(new.state),
        until=_iso(new.until),
        by=new.set_by,
        **details,
    )


def _event(
    now: datetime, kind: str, severity: Severity, message: str, **details: Any
) -> SystemEvent:
    return SystemEvent(
        timestamp=now,
        event_type=f"trading_state.{kind}",
        component=COMPONENT,
        severity=severity,
        message=message,
        details=details,
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
