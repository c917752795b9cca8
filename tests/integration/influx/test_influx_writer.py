"""The InfluxDB writer against a local InfluxDB 2 write endpoint over real HTTP.

Every wait is bounded (the fake's ``wait_for``); backoffs are shortened to milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from trading_core.adapters.influx import InfluxWriter, Point, encode, nanoseconds

from .influx_fake import InfluxFake

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _writer(
    url: str, token: str | None, registry: CollectorRegistry, **options: float | bool
) -> InfluxWriter:
    settings: dict[str, float | bool] = {
        "batch_size": 100,
        "flush_seconds": 0.05,
        "buffer_points": 1000,
        "backoff_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "close_timeout_seconds": 5.0,
        **options,
    }
    return InfluxWriter(
        url=url,
        org="trading",
        bucket="trading",
        token=SecretStr(token) if token is not None else None,
        registry=registry,
        **settings,  # type: ignore[arg-type]
    )


def _point(n: int, symbol: str = "BTC/USD") -> Point:
    return Point(
        "bars",
        {"symbol": symbol, "timeframe": "5m"},
        {"close": Decimal("40000.5") + n, "volume": Decimal("1.25")},
        T0 + timedelta(minutes=5 * n),
    )


def _dropped(registry: CollectorRegistry) -> float:
    value = registry.get_sample_value("influx_points_dropped_total")
    assert value is not None
    return value


def _dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_points_go_in_batches_of_batch_size_and_the_rest_at_close(
    influx: InfluxFake,
) -> None:
    registry = CollectorRegistry()
    writer = _writer(influx.url, influx.token, registry, batch_size=3, flush_seconds=60)
    async with writer:
        for n in range(7):
            writer.write(_point(n))
        await influx.wait_for(points=6)
        assert [len(r.lines) for r in influx.requests] == [3, 3]  # the 7th waits: no timer yet
    assert [len(r.lines) for r in influx.requests] == [3, 3, 1]  # close sent it
    assert [p["fields"]["close"] for p in influx.points] == [40000.5 + n for n in range(7)]
    assert influx.points[0]["time"] == nanoseconds(T0)
    first = influx.requests[0]
    assert first.params == {"org": "trading", "bucket": "trading", "precision": "ns"}
    assert first.authorization == f"Token {influx.token}"
    assert first.content_encoding == "gzip"
    assert writer.written == 7
    assert _dropped(registry) == 0


async def test_a_partial_batch_is_sent_after_flush_seconds(influx: InfluxFake) -> None:
    registry = CollectorRegistry()
    async with _writer(
        influx.url, influx.token, registry, batch_size=1000, flush_seconds=0.05, compress=False
    ) as writer:
        writer.write(_point(0))
        writer.write(_point(1))
        await influx.wait_for(points=2)  # well before close
        assert len(influx.requests) == 1
        assert influx.requests[0].content_encoding is None


async def test_special_characters_are_escaped_as_line_protocol_documents(
    influx: InfluxFake,
) -> None:
    tags = {
        "symbol": "BTC USD",
        "venue": "kraken,spot",
        "key with=sign": "a=b",
        "path": "C:\\trades",
        "empty": "",
    }
    fields = {
        "note": 'he said "buy", then \\ left',
        "field key,odd=": 1.5,
        "count": 3,
        "ok": True,
        "price": Decimal("1E+5"),
    }
    point = Point("my measurement,v2", tags, fields, T0)
    line = encode(point)
    assert line == (
        "my\\ measurement\\,v2"
        ",key\\ with\\=sign=a\\=b,path=C:\\trades,symbol=BTC\\ USD,venue=kraken\\,spot"
        ' note="he said \\"buy\\", then \\\\ left",field\\ key\\,odd\\==1.5,count=3i,ok=true'
        f",price=100000 {nanoseconds(T0)}"
    )
    async with _writer(influx.url, influx.token, CollectorRegistry()) as writer:
        writer.write(point)
        await influx.wait_for(points=1)
    written = influx.points[0]
    assert written["measurement"] == "my measurement,v2"
    assert written["tags"] == {k: v for k, v in tags.items() if v}  # an empty tag is left out
    assert written["fields"] == {
        "note": 'he said "buy", then \\ left',
        "field key,odd=": 1.5,
        "count": 3,
        "ok": True,
        "price": 100000.0,
    }


def test_a_backslash_ending_a_tag_value_does_not_escape_the_separator() -> None:
    line = encode(Point("m", {"dir": "C:\\"}, {"f": 1.0}, T0))
    assert line.startswith("m,dir=C:\\  f=1.0 ")  # the space after it keeps the field set apart


async def test_a_point_with_no_writable_field_is_dropped_and_counted_not_raised(
    influx: InfluxFake,
) -> None:
    registry = CollectorRegistry()
    async with _writer(influx.url, influx.token, registry) as writer:
        writer.write(Point("equity", {"account": "paper"}, {"equity": Decimal("NaN")}, T0))
        writer.write(_point(0))
        await influx.wait_for(points=1)
    assert _dropped(registry) == 1
    assert [p["measurement"] for p in influx.points] == ["bars"]


async def test_a_dead_server_drops_the_oldest_points_counted_and_never_blocks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    writer = _writer(
        f"http://127.0.0.1:{_dead_port()}", "token", registry, batch_size=5, buffer_points=20
    )
    caplog.set_level(logging.WARNING, logger="trading_core.adapters.influx")
    async with writer:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in range(500):
            writer.write(_point(n))  # a plain call: nothing here awaits the server
        assert loop.time() - started < 1.0
        assert writer.pending <= 20
        assert _dropped(registry) >= 480
        await asyncio.sleep(0.2)  # the sender keeps retrying meanwhile, with backoff
        assert writer.pending <= 20
    assert writer.pending == 0
    assert _dropped(registry) == 500 == writer.dropped
    connection_logs = [r for r in caplog.records if "(connection)" in r.getMessage()]
    assert len(connection_logs) == 1, [r.getMessage() for r in caplog.records]


async def test_503_then_recovery_writes_every_point_once(influx: InfluxFake) -> None:
    registry = CollectorRegistry()
    influx.fail_next(503, 503, 429)
    async with _writer(influx.url, influx.token, registry, batch_size=4) as writer:
        for n in range(4):
            writer.write(_point(n))
        await influx.wait_for(points=4)
    assert [r.status for r in influx.requests] == [503, 503, 429, 204]
    assert all(len(r.lines) == 4 for r in influx.requests)  # the same batch, retried
    assert [p["fields"]["close"] for p in influx.points] == [40000.5 + n for n in range(4)]
    assert _dropped(registry) == 0
    assert registry.get_sample_value("influx_points_written_total") == 4


async def test_a_refused_token_drops_each_batch_and_is_logged_once(
    influx: InfluxFake, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    caplog.set_level(logging.WARNING, logger="trading_core.adapters.influx")
    async with _writer(influx.url, "not-the-token", registry, batch_size=1) as writer:
        for n in range(5):
            writer.write(_point(n))
        await influx.wait_for(requests=5)
    assert [r.status for r in influx.requests] == [401] * 5  # not retried: refused for good
    assert influx.points == []
    assert _dropped(registry) == 5
    unauthorized = [r for r in caplog.records if "(401)" in r.getMessage()]
    assert len(unauthorized) == 1, [r.getMessage() for r in caplog.records]
    assert "unauthorized access" in unauthorized[0].getMessage()
    assert "not-the-token" not in caplog.text


async def test_an_unknown_bucket_is_refused_for_good(influx: InfluxFake) -> None:
    registry = CollectorRegistry()
    writer = InfluxWriter(
        url=influx.url,
        org="trading",
        bucket="nope",
        token=SecretStr(influx.token),
        registry=registry,
        batch_size=2,
        flush_seconds=0.05,
        buffer_points=10,
    )
    async with writer:
        writer.write(_point(0))
        writer.write(_point(1))
        await influx.wait_for(requests=1)
    assert [r.status for r in influx.requests] == [404]
    assert _dropped(registry) == 2
