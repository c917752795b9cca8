"""One process's trading services, opened on first use and shared by every mounted server.

Opening lazily keeps start-up instant (Claude Desktop gives a server about 30 s) and lets a
bad configuration surface as a clear tool error instead of a server that never starts.
:meth:`Runtime.for_app` instead wraps services someone else opened and drives (a run of the
orchestrator whose orders go through these tools in memory).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastmcp import FastMCP
from fastmcp.server.dependencies import get_access_token, get_context, get_http_request

from trading_core.ports.clock import Clock
from trading_core.services.container import TradingApp, open_app
from trading_core.services.principals import Principal, PrincipalKind
from trading_core.settings import Settings, load_settings

LOCAL_ASSISTANT = Principal(name="assistant:local", kind=PrincipalKind.ASSISTANT)
"""Who calls over stdio (or in memory): a local person's assistant, never a person itself."""
_PRINCIPAL_KEY = "principal"


class Runtime:
    """Holds the settings and, once opened, the :class:`TradingApp` of this process."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        principal: Principal | None = None,
    ) -> None:
        """``principal`` names who calls when no HTTP token does (default: the local assistant).

        Only code in this process can construct a Runtime and only it can reach an in-memory
        server, so this is no way around HTTP authentication: over HTTP the bearer token names
        the caller (every HTTP request carries one) and this is never consulted. The
        orchestrator uses it to call the tools in memory as ``trading-core``. A person is
        refused here: approving is a person answering a form, never a setting.
        """
        if principal is not None and principal.is_human:
            raise ValueError("a runtime's principal cannot be a person")
        self._settings = settings
        self._clock = clock
        self._principal = principal
        self._app: TradingApp | None = None
        self._owns_app = True
        self._lock = asyncio.Lock()

    @classmethod
    def for_app(cls, app: TradingApp, *, principal: Principal | None = None) -> Runtime:
        """Serve ``app``, already opened and driven by its owner (who also closes it).

        The owner keeps the services current (a replay feeds the quotes, runs the breakers and
        rolls the day on its own clock), so tool calls do not refresh them: a refresh here would
        feed the broker a second time and run the breakers out of step.
        """
        runtime = cls(app.settings, clock=app.clock, principal=principal)
        runtime._app = app
        runtime._owns_app = False
        return runtime

    @property
    def principal(self) -> Principal | None:
        """Who calls when no HTTP token names the caller (``None``: the local assistant)."""
        return self._principal

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def opened_app(self) -> TradingApp | None:
        """The services if a call has opened them, without a refresh (None before the first)."""
        return self._app

    async def app(self) -> TradingApp:
        """The opened services, refreshed from the store (other processes' changes)."""
        async with self._lock:
            if self._app is None:
                self._app = await open_app(self.settings, channel="mcp", clock=self._clock)
            elif self._owns_app:
                await self._app.refresh()
            return self._app

    async def close(self) -> None:
        async with self._lock:
            if self._app is not None and self._owns_app:
                app, self._app = self._app, None
                await app.close()

    @asynccontextmanager
    async def lifespan(self, _server: FastMCP[Any]) -> AsyncIterator[dict[str, Any]]:
        """Close the services when the server stops (safe to run once per mounted server).

        The context carries the runtime's principal to :func:`current_principal`.
        """
        try:
            yield {} if self._principal is None else {_PRINCIPAL_KEY: self._principal}
        finally:
            await self.close()


def current_principal() -> Principal:
    """Who is calling: the HTTP token's principal, else the runtime's, else the local assistant."""
    token = get_access_token()
    if token is not None:
        return Principal.for_token_name(token.client_id)
    if _over_http():
        return LOCAL_ASSISTANT  # unreachable behind the token check; never the fixed principal
    try:
        fixed = get_context().lifespan_context.get(_PRINCIPAL_KEY)
    except RuntimeError:  # not inside a request (no context): nobody but the local assistant
        return LOCAL_ASSISTANT
    return fixed if isinstance(fixed, Principal) else LOCAL_ASSISTANT


def _over_http() -> bool:
    try:
        get_http_request()
    except RuntimeError:
        return False
    return True
