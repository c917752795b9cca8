"""The live clock and a simulated clock for replays and tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to; replays set it to each bar's close time."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        """Move to ``moment``; time never runs backwards."""
        if moment.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        if moment < self._now:
            raise ValueError(f"clock cannot go back from {self._now} to {moment}")
        self._now = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)

    def advance_to(self, moment: datetime) -> None:
        """Move forward to ``moment``; a moment at or before now leaves the clock where it is."""
        if moment > self._now:
            self.set(moment)
