"""Pick the bus from a URL: in-memory when none is configured, Redis otherwise."""

from __future__ import annotations

from urllib.parse import urlsplit

from trading_core.adapters.bus_memory import MEMORY_URL, InMemoryBus
from trading_core.adapters.bus_redis import RedisBus, mask_url
from trading_core.domain.errors import BusUnavailableError, ConfigurationError
from trading_core.ports.bus import Bus
from trading_core.ports.clock import Clock

REDIS_SCHEMES = ("redis", "rediss")


async def open_bus(url: str | None, clock: Clock, *, prefix: str = "") -> Bus:
    """Open the bus named by ``url``.

    ``None`` or ``memory://`` gives an :class:`InMemoryBus` driven by ``clock``; ``redis://`` and
    ``rediss://`` give a :class:`RedisBus` (with key/channel ``prefix``) that has already answered
    a PING, so a wrong URL fails at start-up with :class:`BusUnavailableError`. Any other scheme
    is a :class:`ConfigurationError`.
    """
    if url is None or url == MEMORY_URL:
        return InMemoryBus(clock)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in REDIS_SCHEMES:
        raise ConfigurationError(
            f"unsupported bus URL {mask_url(url)!r}: use {MEMORY_URL}, redis:// or rediss://"
        )
    bus = RedisBus(url, prefix=prefix)
    try:
        await bus.ping()
    except BusUnavailableError:
        await bus.close()
        raise
    return bus
