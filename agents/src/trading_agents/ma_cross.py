"""Moving-average cross: buy when the fast SMA crosses above the slow one, exit when below."""

from __future__ import annotations

import math
from collections.abc import Sequence

from trading_core.domain.signal import Signal
from trading_core.ports.agent import AgentContext


class MovingAverageCross:
    """Score +1 on a golden cross, -1 on a death cross, otherwise 0 (no new information).

    Confidence grows with the distance between the averages relative to the slow one, so a cross
    by a hair is reported with low confidence.
    """

    name = "ma_cross"

    def __init__(self, fast: int = 10, slow: int = 30) -> None:
        if not 1 <= fast < slow:
            raise ValueError(f"need 1 <= fast < slow, got fast={fast}, slow={slow}")
        self.fast = int(fast)
        self.slow = int(slow)

    @property
    def warmup_bars(self) -> int:
        return self.slow + 1

    def evaluate(self, context: AgentContext) -> Signal | None:
        closes = context.closes
        if len(closes) < self.warmup_bars:
            return None
        fast_now, slow_now = _sma(closes, self.fast, 0), _sma(closes, self.slow, 0)
        fast_before, slow_before = _sma(closes, self.fast, 1), _sma(closes, self.slow, 1)
        features: dict[str, float | None] = {
            f"sma_{self.fast}": fast_now,
            f"sma_{self.slow}": slow_now,
        }
        spread = (fast_now - slow_now) / slow_now
        confidence = min(1.0, abs(spread) * 100)
        if fast_before <= slow_before and fast_now > slow_now:
            score, reason = 1.0, f"sma{self.fast} crossed above sma{self.slow}"
        elif fast_before >= slow_before and fast_now < slow_now:
            score, reason = -1.0, f"sma{self.fast} crossed below sma{self.slow}"
        else:
            side = "above" if fast_now > slow_now else "below"
            score, reason = 0.0, f"no cross: sma{self.fast} {side} sma{self.slow}"
        return Signal(
            agent=self.name,
            symbol=context.bar.symbol,
            timestamp=context.bar.close_time,
            score=score,
            confidence=confidence,
            reason=reason,
            features=features,
        )


def _sma(values: Sequence[float], length: int, lag: int) -> float:
    """Mean of the ``length`` values ending ``lag`` bars before the last one."""
    end = len(values) - lag
    return math.fsum(values[i] for i in range(end - length, end)) / length
