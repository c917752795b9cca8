"""Replay at wall-clock or accelerated speed: bars are released as their market time comes due.

The orchestrator's clock stays the market's (a replay of 2018 trades in 2018 time); only the
release of each bar waits on a wall clock, so ``speed=1`` plays a 5-minute bar every five minutes
and ``speed=60`` every five seconds. Both clocks are injected.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from trading_core.domain.market import Bar
from trading_core.ports.clock import Clock

Sleep = Callable[[float], Awaitable[object]]


async def paced(
    bars: AsyncIterator[Bar], *, speed: float, wall: Clock, sleep: Sleep
) -> AsyncIterator[Bar]:
    """Yield ``bars`` no faster than ``speed`` times their market time (close to close)."""
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    market_start = None
    wall_start = None
    async for bar in bars:
        if market_start is None or wall_start is None:
            market_start, wall_start = bar.close_time, wall.now()
        else:
            due = wall_start + (bar.close_time - market_start) / speed
            wait = (due - wall.now()).total_seconds()
            if wait > 0:
                await sleep(wait)
        yield bar
