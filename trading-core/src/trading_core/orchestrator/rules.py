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
) -> Verdict:
    """Long-only rule set: enter on a strong buy signal when flat, exit on a strong sell."""
    if signal is None:
        return Verdict(
            DecisionType.SKIP, f"skip: warming up ({bars_seen}/{warmup_bars} bars of history)"
        )
    holding = position_quantity > 0
    detail = f"{signal.agent} score {signal.score:+.2f} ({signal.reason})"
    if not holding and signal.score >= ENTRY_THRESHOLD:
        return Verdict(DecisionType.ENTRY, f"entry: {detail} >= entry {ENTRY_THRESHOLD}")
    if holding and signal.score <= EXIT_THRESHOLD:
        return Verdict(DecisionType.EXIT, f"exit: {detail} <= exit {EXIT_THRESHOLD}")
    if holding:
        return Verdict(DecisionType.HOLD, f"hold {position_quantity}: {detail}")
    return Verdict(DecisionType.SKIP, f"skip: flat; {detail} below entry {ENTRY_THRESHOLD}")
