"""In-process bus for embedded runs and tests, with the same semantics as the Redis bus.

The wire conventions both buses share live in ``bus_codec`` so memory and Redis cannot drift.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trading_core.adapters.bus_codec import (
    check_channels,
    check_ttl,
    encode_message,
    quote_from_fields,
    quote_to_fields,
)
from trading_core.domain.errors import DataError
from trading_core.domain.market import Quote
from trading_core.ports.bus import QUOTE_TTL_SECONDS, quote_key
from trading_core.ports.clock import Clock

DEFAULT_SUBSCRIBER_QUEUE_SIZE = 1_000
MEMORY_URL = "memory://"


@dataclass
class _Entry:
    value: str | dict[str, str]
    expires_at: datetime | None


class MemorySubscription:
    """A subscriber's bounded mailbox: when full, the oldest message is dropped and counted."""

    def __init__(
        self, channels: tuple[str, ...], max_queue: int, on_drop: Callable[[], None] | None
    ) -> None:
        self.channels = channels
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=max_queue)
        self._on_drop = on_drop
        self.dropped = 0

    def _deliver(self, channel: str, payload: str) -> None:
        if self._queue.full():
            # Never block the publisher: the database is the truth, the bus only notifies.
            self._queue.get_nowait()
            self.dropped += 1
            if self._on_drop is not None:
                self._on_drop()
        self._queue.put_nowait({"channel": channel, "data": json.loads(payload)})

    async def get(self, timeout: float) -> dict[str, Any] | None:
        """Next message as ``{"channel": ..., "data": ...}``, or None after ``timeout`` seconds."""
        if not self._queue.empty():
            return self._queue.get_nowait()
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None


class InMemoryBus:
    """Quote cache, keys with TTL and pub/sub in one process; expiry follows the injected Clock."""

    def __init__(
        self,
        clock: Clock,
        *,
        max_queue: int = DEFAULT_SUBSCRIBER_QUEUE_SIZE,
        on_drop: Callable[[], None] | None = None,
    ) -> None:
        """``on_drop`` is called once per message dropped for a slow subscriber (e.g. a metric)."""
        if max_queue <= 0:
            raise ValueError(f"max_queue must be positive, got {max_queue}")
        self._clock = clock
        self._max_queue = max_queue
        self._on_drop = on_drop
        self._entries: dict[str, _Entry] = {}
        self._subscribers: list[MemorySubscription] = []
        self._dropped = 0

    @property
    def url(self) -> str:
        return MEMORY_URL

    @property
    def dropped_messages(self) -> int:
        """Messages dropped so far, over all subscribers, because a mailbox was full."""
        return self._dropped

    async def close(self) -> None:
        self._entries.clear()
        self._subscribers.clear()

    async def set_quote(self, quote: Quote, ttl_seconds: int = QUOTE_TTL_SECONDS) -> None:
        """Cache ``quote`` as the mapping ``quote:{symbol}`` with a TTL."""
        check_ttl(ttl_seconds)
        self._store(quote_key(quote.symbol), quote_to_fields(quote), ttl_seconds)

    async def get_quote(self, symbol: str) -> Quote | None:
        entry = self._live_entry(quote_key(symbol))
        if entry is None:
            return None
        if not isinstance(entry.value, dict):
            raise DataError(f"{quote_key(symbol)} holds a plain value, not a quote")
        return quote_from_fields(symbol, entry.value)

    async def set(self, key: str, value: str, ttl_seconds: int | None = None) -> None:
        check_ttl(ttl_seconds)
        self._store(key, value, ttl_seconds)

    async def get(self, key: str) -> str | None:
        entry = self._live_entry(key)
        if entry is None:
            return None
        if not isinstance(entry.value, str):
            raise DataError(f"{key} holds a quote hash, not a plain value")
        return entry.value

    async def ttl(self, key: str) -> float | None:
        """Seconds left before ``key`` expires; None when missing or without expiry."""
        entry = self._live_entry(key)
        if entry is None or entry.expires_at is None:
            return None
        return (entry.expires_at - self._clock.now()).total_seconds()

    async def publish(self, channel: str, message: Mapping[str, Any]) -> int:
        """Deliver to every current subscriber of ``channel``; returns how many were reached."""
        check_channels([channel])
        payload = encode_message(message)
        receivers = [sub for sub in self._subscribers if channel in sub.channels]
        for sub in receivers:
            sub._deliver(channel, payload)
        return len(receivers)

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[MemorySubscription]:
        """Subscribe for the duration of the ``async with`` block."""
        subscription = MemorySubscription(
            check_channels(channels), self._max_queue, self._count_drop
        )
        self._subscribers.append(subscription)
        try:
            yield subscription
        finally:
            if subscription in self._subscribers:
                self._subscribers.remove(subscription)

    def _count_drop(self) -> None:
        self._dropped += 1
        if self._on_drop is not None:
            self._on_drop()

    def _store(self, key: str, value: str | dict[str, str], ttl_seconds: int | None) -> None:
        expires_at = None
        if ttl_seconds is not None:
            expires_at = self._clock.now() + timedelta(seconds=ttl_seconds)
        self._entries[key] = _Entry(value, expires_at)

    def _live_entry(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at is not None and self._clock.now() >= entry.expires_at:
            del self._entries[key]
            return None
        return entry
