r"""InfluxDB 2 writer: line protocol, batches, a bounded buffer, retries; never in trading's way.

:meth:`InfluxWriter.write` only appends to a buffer and returns, whatever the server does: a
background task sends batches to ``POST /api/v2/write`` (every ``batch_size`` points, or
``flush_seconds`` after a batch's first point), retries with a doubling backoff on 5xx, 429 and
connection errors (honouring ``Retry-After``), and drops a batch the server refuses for good
(400, 401, 404, 413, ...). While InfluxDB is down the buffer fills; beyond ``buffer_points`` the
oldest points are dropped and counted in ``influx_points_dropped_total``, so trading never
waits for monitoring. Each kind of failure is logged once until a write succeeds again.

Line protocol as InfluxDB documents it ("Line protocol", InfluxDB OSS v2 reference, section
"Special characters"): measurements escape commas and spaces; tag keys, tag values and field
keys escape commas, equals signs and spaces; string field values escape double quotes and
backslashes. Elsewhere a backslash is literal (InfluxDB's parser unescapes only ``\,``, ``\=``
and ``\ `` there); one at the very end of a name or tag value would escape the separator after
it, so a space follows it, as InfluxData's Python client does. Newlines, which line protocol
does not allow in tag or field values, become spaces. Tags are sorted by key (the reference's
performance tip); empty tags are left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Final

import aiohttp
from prometheus_client import CollectorRegistry, Counter
from pydantic import SecretStr

log = logging.getLogger(__name__)

FieldValue = Decimal | float | int | bool | str
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_RETRYABLE: Final = frozenset({429, 500, 502, 503, 504})
_MEASUREMENT_ESCAPES: Final = str.maketrans({",": "\\,", " ": "\\ ", "\n": " ", "\r": " "})
_KEY_ESCAPES: Final = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", "\n": " ", "\r": " "})
_STRING_ESCAPES: Final = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": " ", "\r": " "})


@dataclass(frozen=True, slots=True)
class Point:
    """One line of line protocol: a measurement, its tags and fields, at a moment."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time: datetime
    """Timezone-aware; written in nanoseconds."""

    def series(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """What InfluxDB identifies a series by: a second point of it at the same time replaces
        the first."""
        return self.measurement, tuple(sorted(self.tags.items()))


def nanoseconds(moment: datetime) -> int:
    """Unix time of ``moment`` in integer nanoseconds (exact to the microsecond)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def encode(point: Point) -> str:
    """``point`` as one line of line protocol (no trailing newline).

    Raises ValueError for a point InfluxDB would refuse: no measurement, or no field left once
    non-finite numbers are left out.
    """
    if not point.measurement:
        raise ValueError("a point needs a measurement")
    head = _escaped(point.measurement, _MEASUREMENT_ESCAPES)
    tags = "".join(
        f",{_escaped(key, _KEY_ESCAPES)}={_escaped(value, _KEY_ESCAPES)}"
        for key, value in sorted(point.tags.items())
        if key and value
    )
    fields = ",".join(
        f"{_escaped(key, _KEY_ESCAPES)}={text}"
        for key, value in point.fields.items()
        if key and (text := _field_value(value)) is not None
    )
    if not fields:
        raise ValueError(f"point of {point.measurement!r} has no field to write")
    return f"{head}{tags} {fields} {nanoseconds(point.time)}"


def _escaped(text: str, table: dict[int, str]) -> str:
    escaped = text.translate(table)
    return escaped + " " if escaped.endswith("\\") else escaped


def _field_value(value: FieldValue) -> str | None:
    """A field value's literal: floats by default, ``i`` for integers, quoted strings."""
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, Decimal):
        # Every digit the book holds, never an exponent; NaN and infinities have no literal.
        return format(value, "f") if value.is_finite() else None
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return '"' + value.translate(_STRING_ESCAPES) + '"'


class _Outcome(Enum):
    SENT = "sent"
    REJECTED = "rejected"
    """The server refused the batch for good (bad data, bad token, no such bucket)."""
    RETRY = "retry"


@dataclass(slots=True)
class _Attempt:
    outcome: _Outcome
    problem: str = ""
    """Which failure, for logging each kind once ("401", "connection", ...)."""
    detail: str = ""
    retry_after: float | None = None


@dataclass(slots=True)
class _Logged:
    """Failure kinds already logged since the last successful write."""

    kinds: set[str] = field(default_factory=set)

    def first(self, kind: str) -> bool:
        if kind in self.kinds:
            return False
        self.kinds.add(kind)
        return True


class InfluxWriter:
    """Batches points to one InfluxDB 2 bucket in the background; see the module docstring."""

    def __init__(
        self,
        *,
        url: str,
        org: str,
        bucket: str,
        token: SecretStr | None,
        registry: CollectorRegistry,
        batch_size: int = 5000,
        flush_seconds: float = 5.0,
        buffer_points: int = 100_000,
        compress: bool = True,
        request_timeout_seconds: float = 10.0,
        backoff_seconds: float = 0.5,
        backoff_max_seconds: float = 30.0,
        close_timeout_seconds: float = 5.0,
    ) -> None:
        """``registry`` gets ``influx_points_dropped_total`` and ``influx_points_written_total``
        (the run's :class:`~trading_core.adapters.metrics.Metrics` registry)."""
        if batch_size <= 0 or buffer_points < batch_size:
            raise ValueError("need 0 < batch_size <= buffer_points")
        self._write_url = url.rstrip("/") + "/api/v2/write"
        self._params = {"org": org, "bucket": bucket, "precision": "ns"}
        self._token = token
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._capacity = buffer_points
        self._compress = compress
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_seconds)
        self._backoff = backoff_seconds
        self._backoff_max = backoff_max_seconds
        self._close_timeout = close_timeout_seconds
        self._buffer: deque[str] = deque()
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._in_flight: list[str] = []
        self._logged = _Logged()
        self._dropped = Counter(
            "influx_points_dropped",
            "Points never written to InfluxDB: buffer full, refused, or unsent at stop.",
            registry=registry,
        )
        self._written = Counter(
            "influx_points_written", "Points InfluxDB accepted.", registry=registry
        )
        self.dropped = 0
        """Points dropped so far (the counter's value, for summaries and tests)."""
        self.written = 0

    @property
    def pending(self) -> int:
        """Points waiting to be sent, the batch in flight included."""
        return len(self._buffer) + len(self._in_flight)

    def write(self, point: Point) -> None:
        """Queue ``point``; returns at once and never raises (a bad point is dropped, counted)."""
        try:
            line = encode(point)
        except ValueError as exc:
            self._drop(1, "invalid point", str(exc))
            return
        self._buffer.append(line)
        if len(self._buffer) > self._capacity:
            self._buffer.popleft()
            self._drop(1, "buffer full", f"more than {self._capacity} points waiting")
        if len(self._buffer) in (1, self._batch_size):
            self._wakeup.set()

    async def start(self) -> None:
        """Start sending in the background (points written before are kept)."""
        if self._task is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._task = asyncio.create_task(self._run(), name="influx-writer")

    async def close(self) -> None:
        """Send what is waiting (for at most ``close_timeout_seconds``), then stop; what could
        not be sent is counted as dropped. Never raises."""
        self._stopping.set()
        self._wakeup.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self._close_timeout)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        left = self.pending
        if left:
            self._drop(left, "stopped", f"{left} point(s) not sent before the writer stopped")
            self._buffer.clear()
            self._in_flight = []
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> InfluxWriter:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _run(self) -> None:
        delay = self._backoff
        while True:
            await self._wait_for_batch()
            if not self._buffer:
                return  # stopping, and nothing left
            count = min(self._batch_size, len(self._buffer))
            self._in_flight = [self._buffer.popleft() for _ in range(count)]
            attempt = await self._send(self._in_flight)
            batch, self._in_flight = self._in_flight, []
            if attempt.outcome is _Outcome.SENT:
                self._sent(len(batch))
                delay = self._backoff
                continue
            if attempt.outcome is _Outcome.REJECTED:
                self._drop(len(batch), attempt.problem, attempt.detail)
                continue
            self._requeue(batch)
            self._log_failure(attempt.problem, attempt.detail)
            if self._stopping.is_set():
                return  # close() counts what is left
            await self._pause(min(attempt.retry_after or delay, self._backoff_max))
            delay = min(delay * 2, self._backoff_max)

    async def _wait_for_batch(self) -> None:
        """Until a full batch waits, ``flush_seconds`` passed since the first point, or a stop."""
        while not self._buffer and not self._stopping.is_set():
            self._wakeup.clear()
            await self._wakeup.wait()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._flush_seconds
        while len(self._buffer) < self._batch_size and not self._stopping.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)

    async def _pause(self, seconds: float) -> None:
        """A backoff a stop cuts short."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _send(self, lines: list[str]) -> _Attempt:
        assert self._session is not None
        body = ("\n".join(lines) + "\n").encode()
        headers = {"Content-Type": "text/plain; charset=utf-8", "Accept": "application/json"}
        if self._token is not None and self._token.get_secret_value():
            headers["Authorization"] = f"Token {self._token.get_secret_value()}"
        if self._compress:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        try:
            async with self._session.post(
                self._write_url, params=self._params, data=body, headers=headers
            ) as response:
                if 200 <= response.status < 300:
                    return _Attempt(_Outcome.SENT)
                detail = (await response.text())[:500]
                outcome = _Outcome.RETRY if response.status in _RETRYABLE else _Outcome.REJECTED
                return _Attempt(
                    outcome,
                    str(response.status),
                    f"HTTP {response.status}: {detail}",
                    _retry_after(response.headers.get("Retry-After")),
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return _Attempt(_Outcome.RETRY, "connection", f"{type(exc).__name__}: {exc}")

    def _requeue(self, batch: list[str]) -> None:
        """Put a batch that failed back in front; past capacity the oldest go."""
        self._buffer.extendleft(reversed(batch))
        excess = len(self._buffer) - self._capacity
        if excess > 0:
            for _ in range(excess):
                self._buffer.popleft()
            self._drop(excess, "buffer full", f"more than {self._capacity} points waiting")

    def _sent(self, count: int) -> None:
        self.written += count
        self._written.inc(count)
        if self._logged.kinds:
            log.warning("InfluxDB writes restored (%s)", self._write_url)
            self._logged.kinds.clear()

    def _drop(self, count: int, problem: str, detail: str) -> None:
        self.dropped += count
        self._dropped.inc(count)
        self._log_failure(problem, f"{detail}; {count} point(s) dropped")

    def _log_failure(self, problem: str, detail: str) -> None:
        if self._logged.first(problem):
            log.warning("InfluxDB write to %s failed (%s): %s", self._write_url, problem, detail)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (InfluxDB sends an integer), else None."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
