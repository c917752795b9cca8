"""Rate limiting of pushed alerts: a token bucket per chat, the overflow coalesced into one line.

A burst of alerts (a breaker trip, then every refused order after it) must not flood a phone,
and Telegram itself limits a bot to about one message a second per chat. Alerts past the bucket
are not lost: they are counted, the most severe one is kept, and the next message that chat
gets (or a summary, once a token is back) says how many were held back and where to read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from trading_core.domain.state import Severity
from trading_core.ports.clock import Clock

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert to push: its text and how severe it is."""

    text: str
    severity: Severity = Severity.WARNING


@dataclass
class _Bucket:
    tokens: float
    at: datetime
    suppressed: int = 0
    worst: Alert | None = None
    held_since: datetime | None = None


@dataclass
class AlertThrottle:
    """Decides, per chat, which alerts go out now; see the module docstring."""

    clock: Clock
    per_minute: float
    burst: int
    _buckets: dict[int, _Bucket] = field(default_factory=dict)

    def offer(self, chat_id: int, alert: Alert) -> str | None:
        """The message to send now for ``alert``, or None when it is held back (counted)."""
        bucket = self._refilled(chat_id)
        if bucket.tokens < 1:
            bucket.suppressed += 1
            if bucket.worst is None or _RANK[alert.severity] > _RANK[bucket.worst.severity]:
                bucket.worst = alert
            bucket.held_since = bucket.held_since or self.clock.now()
            return None
        bucket.tokens -= 1
        held = self._held_line(bucket)
        return f"{alert.text}\n{held}" if held else alert.text

    def flush(self, chat_id: int) -> str | None:
        """A summary of the alerts held back, once a token is back (None: nothing to say yet)."""
        bucket = self._refilled(chat_id)
        if bucket.suppressed == 0 or bucket.tokens < 1:
            return None
        bucket.tokens -= 1
        return self._held_line(bucket)

    def chats_holding(self) -> list[int]:
        """Chats with alerts held back (the poller flushes them)."""
        return [chat for chat, bucket in self._buckets.items() if bucket.suppressed]

    def _refilled(self, chat_id: int) -> _Bucket:
        now = self.clock.now()
        bucket = self._buckets.get(chat_id)
        if bucket is None:
            bucket = self._buckets[chat_id] = _Bucket(tokens=float(self.burst), at=now)
            return bucket
        elapsed = max((now - bucket.at).total_seconds(), 0.0)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_minute / 60)
        bucket.at = now
        return bucket

    @staticmethod
    def _held_line(bucket: _Bucket) -> str | None:
        if not bucket.suppressed:
            return None
        count, worst, since = bucket.suppressed, bucket.worst, bucket.held_since
        bucket.suppressed, bucket.worst, bucket.held_since = 0, None, None
        plural = "alert" if count == 1 else "alerts"
        moment = f" since {since:%H:%M:%S} UTC" if since else ""
        first_line = worst.text.splitlines()[0] if worst else ""
        return (
            f"({count} more {plural} suppressed{moment}; the most severe: {first_line} - "
            "all are in audit.system_events)"
        )
