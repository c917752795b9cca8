"""Wire format shared by both buses: quote hashes as strings, JSON messages, argument checks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import ValidationError

from trading_core.domain.errors import DataError
from trading_core.domain.market import Quote
from trading_core.ports.bus import CHANNELS

QUOTE_FIELDS = ("bid", "ask", "last", "volume", "timestamp", "source")


def quote_to_fields(quote: Quote) -> dict[str, str]:
    """Hash fields of ``quote:{symbol}``: Decimals as exact plain digits, timestamp as ISO 8601."""
    return {
        "bid": _plain(quote.bid),
        "ask": _plain(quote.ask),
        "last": _plain(quote.last),
        "volume": _plain(quote.volume),
        "timestamp": quote.timestamp.isoformat(),
        "source": quote.source,
    }


def _plain(value: Decimal) -> str:
    # Fixed-point keeps every digit (and trailing zeros) but never "1E-8", which other readers
    # of the hash (dashboards, redis-cli users) may not parse.
    return f"{value:f}"


def quote_from_fields(symbol: str, fields: Mapping[str, str]) -> Quote:
    """Rebuild a Quote from its hash fields; a malformed hash is a :class:`DataError`."""
    missing = [name for name in QUOTE_FIELDS if name not in fields]
    if missing:
        raise DataError(f"cached quote for {symbol} lacks fields {missing}")
    try:
        return Quote(
            symbol=symbol,
            bid=fields["bid"],
            ask=fields["ask"],
            last=fields["last"],
            volume=fields["volume"],
            timestamp=datetime.fromisoformat(fields["timestamp"]),
            source=fields["source"],
        )
    except (ValidationError, ValueError) as exc:
        raise DataError(f"cached quote for {symbol} is malformed: {exc}") from exc


def _json_default(value: object) -> str:
    # Decimals keep their exact digits as strings; floats would silently round.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    raise TypeError(f"bus messages must be JSON-serialisable; got {type(value).__name__}")


def encode_message(message: Mapping[str, Any]) -> str:
    """JSON text of a bus message; Decimals, datetimes and enums are sent as strings."""
    return json.dumps(dict(message), default=_json_default, separators=(",", ":"))


def check_channels(channels: Iterable[str]) -> tuple[str, ...]:
    """The channels as a tuple, or ValueError naming the first unknown one."""
    names = tuple(channels)
    if not names:
        raise ValueError("subscribe needs at least one channel")
    for name in names:
        if name not in CHANNELS:
            raise ValueError(f"unknown bus channel {name!r}; expected one of {', '.join(CHANNELS)}")
    return names


def check_ttl(ttl_seconds: int | None) -> None:
    if ttl_seconds is not None and ttl_seconds <= 0:
        raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
