"""From a signal and a position to an action, with reasoning a person could act on. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading_core.domain.signal import DecisionType, Signal

ENTRY_THRESHOLD = 0.5
EXIT_THRESHOLD = -0.5


@dataclass(frozen=True, slots=True)
class Verdict:
    decision_type: DecisionType
    reasoning: str


def decide(
    signal: Signal | None,
    *,
    position_quantity: Decimal,
    bars_seen: int,
    warmup_bars: int,
    agent: str = "the agent",
    entry_threshold: float = ENTRY_THRESHOLD,
    exit_threshold: float = EXIT_THRESHOLD,
) -> Verdict:
    """Long-only rule set: enter on a strong buy signal when flat, exit on a strong sell."""
    if signal is None and bars_seen < warmup_bars:
        return Verdict(
            DecisionType.SKIP, f"skip: warming up ({bars_seen}/{warmup_bars} bars of history)"
        )
    if signal is None:
        return Verdict(DecisionType.SKIP, f"skip: {agent} has no view at this bar")
    holding = position_quantity > 0
    detail = f"{signal.agent} score {signal.score:+.2f} ({signal.reason})"
    if not holding and signal.score >= entry_threshold:
        return Verdict(DecisionType.ENTRY, f"entry: {detail} >= entry {entry_threshold}")
    if holding and signal.score <= exit_threshold:
        return Verdict(DecisionType.EXIT, f"exit: {detail} <= exit {exit_threshold}")
    if holding:
        return Verdict(DecisionType.HOLD, f"hold {position_quantity}: {detail}")
    return Verdict(DecisionType.SKIP, f"skip: flat; {detail} below entry {entry_threshold}")
