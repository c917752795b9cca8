"""Redis bus: quotes as real hashes with a TTL, small keys with EX, JSON pub/sub (redis.asyncio)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from trading_core.adapters.bus_codec import (
    check_channels,
    check_ttl,
    encode_message,
    quote_from_fields,
    quote_to_fields,
)
from trading_core.domain.errors import BusUnavailableError, ConfigurationError, DataError
from trading_core.domain.market import Quote
from trading_core.ports.bus import QUOTE_TTL_SECONDS, quote_key

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT_SECONDS: Final = 5.0
SUBSCRIBE_CONFIRM_TIMEOUT_SECONDS: Final = 5.0


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe for logs and error messages)."""
    parts = urlsplit(url)
    # Work on the raw text so even a URL with a broken port gets masked instead of raising.
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}:***@{hostinfo}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class RedisSubscription:
    """Messages from a Redis pub/sub connection, with the key prefix removed from channel names."""

    def __init__(self, pubsub: PubSub, prefix: str, where: str) -> None:
        self._pubsub = pubsub
        self._prefix = prefix
        self._where = where

    async def get(self, timeout: float) -> dict[str, Any] | None:
        """Next message as ``{"channel": ..., "data": ...}``, or None after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = max(0.0, deadline - loop.time())
            with _unavailable_as_domain_error(self._where):
                raw = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=remaining
                )
            if raw is not None and raw.get("type") == "message":
                message = self._decode(raw)
                if message is not None:
                    return message
            if remaining <= 0:
                return None

    def _decode(self, raw: Mapping[str, Any]) -> dict[str, Any] | None:
        channel = str(raw["channel"]).removeprefix(self._prefix)
        try:
            data = json.loads(raw["data"])
        except (TypeError, ValueError):
            # Someone outside this system published junk: skip it, the database is the truth.
            logger.warning("ignoring a non-JSON message on bus channel %s", channel)
            return None
        return {"channel": channel, "data": data}

    async def wait_until_subscribed(self, count: int, timeout: float) -> None:
        """Consume the server's subscribe confirmations so no later publish can be missed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        confirmed = 0
        while confirmed < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise BusUnavailableError(
                    f"Redis at {self._where} did not confirm the subscription within {timeout} s"
                )
            with _unavailable_as_domain_error(self._where):
                raw = await self._pubsub.get_message(timeout=remaining)
            if raw is not None and raw.get("type") == "subscribe":
                confirmed += 1

    async def unsubscribe_all(self, timeout: float) -> None:
        """Unsubscribe and wait for Redis to confirm, so a publish right after reaches no one."""
        with _unavailable_as_domain_error(self._where):
            await self._pubsub.unsubscribe()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            with _unavailable_as_domain_error(self._where):
                raw = await self._pubsub.get_message(timeout=remaining)
            # The confirmation's data is how many channels this connection still listens to.
            if raw is not None and raw.get("type") == "unsubscribe" and raw.get("data") == 0:
                return
        logger.warning("Redis at %s did not confirm unsubscribe within %s s", self._where, timeout)


def _text(value: bytes | str) -> str:
    # The client decodes responses; the stubs still allow bytes.
    return value.decode() if isinstance(value, bytes) else value


@contextmanager
def _unavailable_as_domain_error(where: str) -> Iterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise BusUnavailableError(f"Redis at {where} is unavailable: {exc}") from exc


class RedisBus:
    """The production bus. ``prefix`` is prepended to every key and channel name."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    ) -> None:
        """Lazy: nothing connects until the first command (``open_bus`` pings at once).

        ``connect_timeout`` bounds connecting and each command; waiting on a subscription is
        bounded by the ``timeout`` given to ``get`` instead.
        """
        self._masked_url = mask_url(url)
        try:
            self._client: redis.Redis = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=connect_timeout,
                socket_timeout=connect_timeout,
            )
        except ValueError as exc:
            raise ConfigurationError(f"invalid Redis URL {self._masked_url}: {exc}") from exc
        self._prefix = prefix
        kwargs = self._client.connection_pool.connection_kwargs
        # redis-py falls back to localhost:6379 for parts the URL leaves out.
        self._where = f"{kwargs.get('host') or 'localhost'}:{kwargs.get('port') or 6379}"

    @property
    def url(self) -> str:
        """The connection URL with the password masked."""
        return self._masked_url

    @property
    def prefix(self) -> str:
        return self._prefix

    async def ping(self) -> None:
        """Round-trip to the server; :class:`BusUnavailableError` naming host:port when down."""
        with _unavailable_as_domain_error(self._where):
            await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()

    async def set_quote(self, quote: Quote, ttl_seconds: int = QUOTE_TTL_SECONDS) -> None:
        """Write the hash ``quote:{symbol}`` and its TTL in one MULTI/EXEC transaction."""
        check_ttl(ttl_seconds)
        key = self._key(quote_key(quote.symbol))
        with _unavailable_as_domain_error(self._where):
            async with self._client.pipeline(transaction=True) as pipe:
                # Copied into redis-py's (invariant) key type; the values stay exact strings.
                fields: dict[FieldT, EncodableT] = {
                    name: value for name, value in quote_to_fields(quote).items()
                }
                pipe.hset(key, mapping=fields)
                pipe.expire(key, ttl_seconds)
                await pipe.execute()

    async def get_quote(self, symbol: str) -> Quote | None:
        key = quote_key(symbol)
        with self._wrong_type_as_data_error(key), _unavailable_as_domain_error(self._where):
            raw = await self._client.hgetall(self._key(key))
        if not raw:
            return None
        return quote_from_fields(symbol, {_text(name): _text(value) for name, value in raw.items()})

    async def set(self, key: str, value: str, ttl_seconds: int | None = None) -> None:
        check_ttl(ttl_seconds)
        with _unavailable_as_domain_error(self._where):
            await self._client.set(self._key(key), value, ex=ttl_seconds)

    async def get(self, key: str) -> str | None:
        with self._wrong_type_as_data_error(key), _unavailable_as_domain_error(self._where):
            value = await self._client.get(self._key(key))
        return None if value is None else _text(value)

    async def ttl(self, key: str) -> float | None:
        """Seconds left before ``key`` expires; None when missing or without expiry."""
        with _unavailable_as_domain_error(self._where):
            millis: int = await self._client.pttl(self._key(key))
        # PTTL answers -2 for a missing key and -1 for a key without expiry.
        if millis < 0:
            return None
        return millis / 1000

    async def publish(self, channel: str, message: Mapping[str, Any]) -> int:
        """Publish ``message`` as JSON; returns how many subscribers received it."""
        check_channels([channel])
        payload = encode_message(message)
        with _unavailable_as_domain_error(self._where):
            receivers: int = await self._client.publish(self._key(channel), payload)
        return receivers

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[RedisSubscription]:
        """Subscribe for the ``async with`` block; active (confirmed by Redis) once entered."""
        names = tuple(dict.fromkeys(check_channels(channels)))
        pubsub = self._client.pubsub()
        subscription = RedisSubscription(pubsub, self._prefix, self._where)
        try:
            with _unavailable_as_domain_error(self._where):
                await pubsub.subscribe(*(self._key(name) for name in names))
            await subscription.wait_until_subscribed(len(names), SUBSCRIBE_CONFIRM_TIMEOUT_SECONDS)
            yield subscription
            await subscription.unsubscribe_all(SUBSCRIBE_CONFIRM_TIMEOUT_SECONDS)
        finally:
            # redis-py leaves PubSub.aclose unannotated.
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _key(self, name: str) -> str:
        return f"{self._prefix}{name}"

    @contextmanager
    def _wrong_type_as_data_error(self, key: str) -> Iterator[None]:
        try:
            yield
        except ResponseError as exc:
            if "WRONGTYPE" not in str(exc):
                raise
            raise DataError(f"{key} holds a different kind of value: {exc}") from exc
