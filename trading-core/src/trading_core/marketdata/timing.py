"""Waiting on an injected clock with an injected sleep, so tests never really sleep."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from trading_core.ports.clock import Clock

SleepFunction = Callable[[float], Awaitable[None]]
"""Waits the given number of seconds: ``asyncio.sleep`` live, a fake that moves a clock in tests."""


async def sleep_until(clock: Clock, moment: datetime, sleep: SleepFunction) -> None:
    """Return once ``clock`` shows ``moment`` or later (sleeps can wake early: check again)."""
    while (remaining := (moment - clock.now()).total_seconds()) > 0:
        await sleep(remaining)
