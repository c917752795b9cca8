"""Bus port: quote cache, small keys and pub/sub. Redis in production, in-memory embedded.

Losing a bus message never loses data: the database is the truth; the bus only notifies.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Protocol

from trading_core.domain.market import Quote

QUOTE_TTL_SECONDS: Final = 60
CHANNELS: Final = ("quotes", "signals", "orders", "alerts", "regime")
REGIME_KEY: Final = "regime:current"
SESSION_STATE_KEY: Final = "session:state"


def quote_key(symbol: str) -> str:
    return f"quote:{symbol}"


def circuit_key(component: str) -> str:
    return f"circuit:{component}"


class Subscription(Protocol):
    async def get(self, timeout: float) -> dict[str, Any] | None:
        """Next message as a dict with ``channel`` and ``data`` keys, or None after ``timeout``."""
        ...


class Bus(Protocol):
    @property
    def url(self) -> str: ...

    async def close(self) -> None: ...

    async def set_quote(self, quote: Quote, ttl_seconds: int = QUOTE_TTL_SECONDS) -> None:
        """Cache ``quote`` as the hash ``quote:{symbol}`` with a TTL."""
        ...

    async def get_quote(self, symbol: str) -> Quote | None: ...

    async def set(self, key: str, value: str, ttl_seconds: int | None = None) -> None: ...

    async def get(self, key: str) -> str | None: ...

    async def ttl(self, key: str) -> float | None:
        """Seconds left before ``key`` expires; None when missing or without expiry."""
        ...

    async def publish(self, channel: str, message: Mapping[str, Any]) -> int:
        """Publish a JSON-serialisable message; returns how many subscribers received it."""
        ...

    def subscribe(self, *channels: str) -> AbstractAsyncContextManager[Subscription]: ...
