"""A local InfluxDB 2 write endpoint (real HTTP on 127.0.0.1, aiohttp) for the writer to talk to.

It serves ``POST /api/v2/write?org=&bucket=&precision=`` as InfluxDB OSS v2 documents it (the API
reference "Write data", ``POST /api/v2/write``, InfluxData's OpenAPI contract
``src/common/paths/write.yml``, and "Troubleshoot issues writing data",
https://docs.influxdata.com/influxdb/v2/write-data/troubleshoot/):

- ``Authorization: Token <token>``; a missing or wrong token is 401 with the documented example
  body ``{"code": "unauthorized", "message": "unauthorized access"}``
  (``responses/AuthorizationError.yml``);
- the body is line protocol, ``Content-Encoding: gzip`` or ``identity`` (both documented);
  every line is parsed by a real line-protocol parser (the ``line-protocol-parser`` package);
  the first malformed line rejects the whole batch: 400 with a ``LineProtocolError`` body
  (``code`` ``invalid``, ``message`` naming the line, ``line`` its number), as the reference's
  400 example (``{"code": "invalid", "message": "partial write error ... unable to parse '...':
  ..."}``);
- ``org`` and ``bucket`` are required: a missing one is 400 ``invalid``, an unknown one 404
  ``{"code": "not found", "message": "bucket \\"x\\" not found"}``
  (``responses/ResourceNotFoundError.yml``);
- success is 204 with no body;
- 429 and 503 as the reference describes them, with a ``Retry-After`` header (integer seconds)
  and an ``Error`` body (``schemas/Error.yml``: ``code`` ``too many requests`` / ``unavailable``,
  ``message``): the tests queue them with :meth:`InfluxFake.fail_next`.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from line_protocol_parser import LineFormatError, parse_line

PRECISIONS = ("ns", "us", "ms", "s")
_ERRORS = {
    429: ("too many requests", "token is temporarily over quota"),
    503: ("unavailable", "the server is temporarily unavailable to accept writes"),
    500: ("internal error", "unexpected error writing points to database"),
}


@dataclass(frozen=True)
class WriteRequest:
    """What one request carried and what it was answered."""

    status: int
    params: dict[str, str]
    authorization: str | None
    content_encoding: str | None
    lines: list[str]


@dataclass
class InfluxFake:
    token: str = "influx-test-token-0123456789"
    org: str = "trading"
    bucket: str = "trading"
    points: list[dict[str, Any]] = field(default_factory=list)
    """Every point written, as the parser reads it (measurement, tags, fields, time)."""
    requests: list[WriteRequest] = field(default_factory=list)
    _failures: deque[int] = field(default_factory=deque)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests (with a right token) with these statuses, in order."""
        self._failures.extend(statuses)

    def measurement(self, name: str) -> list[dict[str, Any]]:
        return [point for point in self.points if point["measurement"] == name]

    async def start(self) -> InfluxFake:
        app = web.Application()
        app.router.add_post("/api/v2/write", self._write)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, *, points: int = 0, requests: int = 0, timeout: float = 10) -> None:
        """Until at least this many points were written and requests answered (bounded)."""

        def reached() -> bool:
            return len(self.points) >= points and len(self.requests) >= requests

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(reached), timeout)

    async def _write(self, request: web.Request) -> web.Response:
        # aiohttp's server inflates a gzip body itself (and answers 400 to a broken one).
        encoding = request.headers.get("Content-Encoding")
        body = await request.read()
        lines = [line for line in body.decode().split("\n") if line.strip()]
        params = dict(request.query)
        authorization = request.headers.get("Authorization")
        response, parsed = self._answer(params, authorization, lines)
        self.points.extend(parsed)
        self.requests.append(WriteRequest(response.status, params, authorization, encoding, lines))
        async with self._changed:
            self._changed.notify_all()
        return response

    def _answer(
        self, params: dict[str, str], authorization: str | None, lines: list[str]
    ) -> tuple[web.Response, list[dict[str, Any]]]:
        if authorization != f"Token {self.token}":
            return _error(401, "unauthorized", "unauthorized access"), []
        if self._failures:
            status = self._failures.popleft()
            code, message = _ERRORS[status]
            return _error(status, code, message, retry_after=0), []
        for name in ("org", "bucket"):
            if not params.get(name):
                return _error(400, "invalid", f"missing {name}"), []
        if params["org"] != self.org:
            return _error(404, "not found", f'organization name "{params["org"]}" not found'), []
        if params["bucket"] != self.bucket:
            return _error(404, "not found", f'bucket "{params["bucket"]}" not found'), []
        if params.get("precision", "ns") not in PRECISIONS:
            return _error(400, "invalid", f"invalid precision {params['precision']!r}"), []
        parsed: list[dict[str, Any]] = []
        for number, line in enumerate(lines, start=1):
            try:
                point = parse_line(line)
            except LineFormatError as exc:
                message = f"unable to parse '{line}': {exc}"
                return _error(400, "invalid", message, line=number), []
            if point is not None:  # a comment line
                parsed.append(point)
        return web.Response(status=204), parsed


def _error(
    status: int, code: str, message: str, *, retry_after: int | None = None, line: int | None = None
) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if line is not None:
        body["line"] = line
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=headers
    )
