"""Circuit-breaker thresholds that configuration may only tighten, and the rules they obey.

The hard values are constants in ``limits``. Tighter means a less negative daily-loss threshold, a
smaller drawdown tier, a longer pause or kill-switch latch. :class:`BreakerLimits` checks itself on
construction, so no code path can hold a looser breaker; ``risk_config`` parses the ``[breakers]``
table of ``risk_limits.toml`` into it and describes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import model_validator

from trading_core.domain.base import Frozen
from trading_core.risk import limits
from trading_core.risk.states import DrawdownTier

BREAKERS: str = "breakers"
"""The key (TOML table) under which the circuit breakers are configured."""


class Tighter(StrEnum):
    """Which direction of a breaker value is the stricter one."""

    LOWER = "lower"
    HIGHER = "higher"


@dataclass(frozen=True)
class BreakerSpec:
    """One configurable breaker value: its hard value, which way tightens, and how far."""

    key: str
    hard: Decimal | int
    tighter: Tighter
    far: Decimal | int
    """How far tightening may go: exclusive for percentages, inclusive for whole numbers."""
    far_reason: str
    unit: str
    guards: str


_NO_LOSS = "a threshold at or above 0 would trip without any loss"
_REARM = f"a tier at or below the {limits.REARM_BAND_PCT} % re-arm band could never re-arm"
_WEEK = f"more than {limits.MAX_PAUSE_MINUTES} minutes (a week) is no pause: halt or kill instead"
_MONTH = f"more than {limits.MAX_KILL_LATCH_HOURS} hours (30 days); a person reviews it anyway"
BREAKER_SPECS: tuple[BreakerSpec, ...] = (
    BreakerSpec("daily_loss_warning_pct", limits.DAILY_LOSS_WARNING_PCT, Tighter.HIGHER,
                Decimal(0), _NO_LOSS, "% of start-of-day equity (signed)",
                "daily P&L that raises a warning (once per session)"),
    BreakerSpec("daily_loss_critical_pct", limits.DAILY_LOSS_CRITICAL_PCT, Tighter.HIGHER,
                Decimal(0), _NO_LOSS, "% of start-of-day equity (signed)",
                "daily P&L that sets REDUCING for the rest of the session"),
    BreakerSpec("drawdown_pause_1h_pct", limits.DRAWDOWN_PAUSE_1H_PCT, Tighter.LOWER,
                limits.REARM_BAND_PCT, _REARM, "% below the high-water mark",
                "drawdown of the first tier (pause_1h_minutes pause)"),
    BreakerSpec("drawdown_pause_4h_pct", limits.DRAWDOWN_PAUSE_4H_PCT, Tighter.LOWER,
                limits.REARM_BAND_PCT, _REARM, "% below the high-water mark",
                "drawdown of the second tier (pause_4h_minutes pause)"),
    BreakerSpec("drawdown_kill_pct", limits.DRAWDOWN_KILL_PCT, Tighter.LOWER,
                limits.REARM_BAND_PCT, _REARM, "% below the high-water mark",
                "drawdown that fires the kill switch"),
    BreakerSpec("pause_1h_minutes", limits.PAUSE_1H_MINUTES, Tighter.HIGHER,
                limits.MAX_PAUSE_MINUTES, _WEEK, "minutes", "pause of the first drawdown tier"),
    BreakerSpec("pause_4h_minutes", limits.PAUSE_4H_MINUTES, Tighter.HIGHER,
                limits.MAX_PAUSE_MINUTES, _WEEK, "minutes", "pause of the second drawdown tier"),
    BreakerSpec("kill_latch_hours", limits.KILL_LATCH_HOURS, Tighter.HIGHER,
                limits.MAX_KILL_LATCH_HOURS, _MONTH, "hours",
                "time the kill switch stays latched before a person may reset it"),
)  # fmt: skip
BREAKER_BY_KEY = {spec.key: spec for spec in BREAKER_SPECS}


class BreakerLimits(Frozen):
    """Effective circuit-breaker thresholds, each at or tighter than its hard value in ``limits``.

    Build with ``risk_config.load_breaker_limits`` (or ``load_risk_limits``, as its ``breakers``);
    built directly, the same checks run, so no code path holds a looser breaker.
    """

    daily_loss_warning_pct: Decimal = limits.DAILY_LOSS_WARNING_PCT
    daily_loss_critical_pct: Decimal = limits.DAILY_LOSS_CRITICAL_PCT
    drawdown_pause_1h_pct: Decimal = limits.DRAWDOWN_PAUSE_1H_PCT
    drawdown_pause_4h_pct: Decimal = limits.DRAWDOWN_PAUSE_4H_PCT
    drawdown_kill_pct: Decimal = limits.DRAWDOWN_KILL_PCT
    pause_1h_minutes: int = limits.PAUSE_1H_MINUTES
    pause_4h_minutes: int = limits.PAUSE_4H_MINUTES
    kill_latch_hours: int = limits.KILL_LATCH_HOURS
    configured_keys: frozenset[str] = frozenset()
    """Keys that came from configuration (the rest are the hard values)."""

    @model_validator(mode="after")
    def _tighter_and_ordered(self) -> BreakerLimits:
        values = {spec.key: getattr(self, spec.key) for spec in BREAKER_SPECS}
        for spec in BREAKER_SPECS:
            problem = breaker_problem(spec, values[spec.key])
            if problem:
                raise ValueError(f"{BREAKERS}.{spec.key}: {problem}")
        problem = order_problem(values)
        if problem:
            raise ValueError(problem)
        return self

    def drawdown_pct(self, tier: DrawdownTier) -> Decimal:
        """The drawdown (percent below the high-water mark) at which ``tier`` trips."""
        return {
            DrawdownTier.PAUSE_1H: self.drawdown_pause_1h_pct,
            DrawdownTier.PAUSE_4H: self.drawdown_pause_4h_pct,
            DrawdownTier.KILL: self.drawdown_kill_pct,
        }[tier]

    def pause_minutes(self, tier: DrawdownTier) -> int:
        """How long a pausing ``tier`` halts trading (KILL does not pause: it latches)."""
        return {
            DrawdownTier.PAUSE_1H: self.pause_1h_minutes,
            DrawdownTier.PAUSE_4H: self.pause_4h_minutes,
        }[tier]

    @property
    def kill_latch(self) -> timedelta:
        """How long the kill switch stays latched before a person may reset it."""
        return timedelta(hours=self.kill_latch_hours)


def breaker_problem(spec: BreakerSpec, value: Decimal | int) -> str | None:
    """Why ``value`` is not allowed for ``spec`` (None when it is the hard value or tighter)."""
    higher = spec.tighter is Tighter.HIGHER
    if value < spec.hard if higher else value > spec.hard:
        return (
            f"{value} is looser than the hard value {spec.hard} {spec.unit} "
            f"(only a {spec.tighter} value tightens)"
        )
    whole = isinstance(spec.hard, int)
    beyond = value > spec.far if higher else value < spec.far
    if beyond or (value == spec.far and not whole):
        return f"{value} refused: {spec.far_reason}"
    return None


def order_problem(values: Mapping[str, Decimal | int]) -> str | None:
    """Why the thresholds together make no sense (None when they are ordered)."""
    warning, critical = values["daily_loss_warning_pct"], values["daily_loss_critical_pct"]
    if warning <= critical:
        return (
            f"{BREAKERS}.daily_loss_warning_pct ({warning}) must be above "
            f"{BREAKERS}.daily_loss_critical_pct ({critical}): the warning comes first"
        )
    tiers = [values[f"drawdown_{name}_pct"] for name in ("pause_1h", "pause_4h", "kill")]
    if not tiers[0] < tiers[1] < tiers[2]:
        return (
            f"drawdown tiers must rise: {BREAKERS}.drawdown_pause_1h_pct ({tiers[0]}) < "
            f"drawdown_pause_4h_pct ({tiers[1]}) < drawdown_kill_pct ({tiers[2]})"
        )
    short, long = values["pause_1h_minutes"], values["pause_4h_minutes"]
    if long < short:
        return (
            f"{BREAKERS}.pause_4h_minutes ({long}) must be at least "
            f"{BREAKERS}.pause_1h_minutes ({short}): a higher tier never pauses for less"
        )
    return None
