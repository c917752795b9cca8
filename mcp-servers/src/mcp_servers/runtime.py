"""One process's trading services, opened on first use and shared by every mounted server.

Opening lazily keeps start-up instant (Claude Desktop gives a server about 30 s) and lets a
bad configuration surface as a clear tool error instead of a server that never starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastmcp import FastMCP
from fastmcp.server.dependencies import get_access_token

from trading_core.ports.clock import Clock
from trading_core.services.container import TradingApp, open_app
from trading_core.services.principals import Principal, PrincipalKind
from trading_core.settings import Settings, load_settings

LOCAL_ASSISTANT = Principal(name="assistant:local", kind=PrincipalKind.ASSISTANT)
"""Who calls over stdio (or in memory): a local person's assistant, never a person itself."""


class Runtime:
    """Holds the settings and, once opened, the :class:`TradingApp` of this process."""

    def __init__(self, settings: Settings | None = None, *, clock: Clock | None = None) -> None:
        self._settings = settings
        self._clock = clock
        self._app: TradingApp | None = None
        self._lock = asyncio.Lock()

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    async def app(self) -> TradingApp:
        """The opened services, refreshed from the store (other processes' changes)."""
        async with self._lock:
            if self._app is None:
                self._app = await open_app(self.settings, channel="mcp", clock=self._clock)
            else:
                await self._app.refresh()
            return self._app

    async def close(self) -> None:
        async with self._lock:
            if self._app is not None:
                app, self._app = self._app, None
                await app.close()

    @asynccontextmanager
    async def lifespan(self, _server: FastMCP[Any]) -> AsyncIterator[dict[str, Any]]:
        """Close the services when the server stops (safe to run once per mounted server)."""
        try:
            yield {}
        finally:
            await self.close()


def current_principal() -> Principal:
    """The caller: the principal an HTTP bearer token names, else the local assistant."""
    token = get_access_token()
    if token is None:
        return LOCAL_ASSISTANT
    return Principal.for_token_name(token.client_id)
