"""The suite served over real streamable HTTP by uvicorn on a local port, stoppable and restartable.

Each start builds the suite afresh and serves it as ``mcp-suite --transport http`` does
(``prepare_for_http``: bearer tokens, cached schemas, the per-principal rate limit), on the same
port every time, so a client sees what it would see when the server process restarts: refused
connections while it is down, and its old session unknown once it is back.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from fastmcp import Client
from fastmcp.client.auth import BearerAuth
from fastmcp.client.transports import StreamableHttpTransport

from mcp_servers.cli import prepare_for_http
from mcp_servers.runtime import Runtime
from mcp_servers.suite import build_suite
from trading_core.settings import Settings

AUTONOMOUS_TOKEN = "trading-core-test-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServedSuite:
    """A suite over ``runtime()`` (called at each start), reachable at :attr:`url` while up."""

    def __init__(self, runtime: Callable[[], Runtime], settings: Settings) -> None:
        self._runtime = runtime
        self._settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.starts = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def up(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        suite = build_suite(self._runtime())
        await prepare_for_http(suite, self._settings)
        config = uvicorn.Config(
            suite.http_app(transport="http"),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._task = asyncio.create_task(server.serve())
        for _ in range(500):
            if server.started:
                break
            if self._task.done():
                self._task.result()  # raises what stopped it
            await asyncio.sleep(0.01)
        else:
            raise RuntimeError(f"the suite did not start on port {self.port}")
        self._server = server
        self.starts += 1

    async def stop(self) -> None:
        server, task, self._server, self._task = self._server, self._task, None, None
        if server is None or task is None:
            return
        server.should_exit = True
        await task

    def client(self, token: str = AUTONOMOUS_TOKEN) -> Client[Any]:
        """A new client of this suite with ``token`` (not connected)."""
        return Client(StreamableHttpTransport(self.url, auth=BearerAuth(token)), timeout=10)
