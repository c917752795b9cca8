"""The orchestrator's tools over a suite in another process: `trading-core run --tools mcp`.

:class:`ReconnectingMcpTools` calls a suite served over streamable HTTP as ``trading-core``.
While the suite is down every call fails at once with ``TOOLS_UNAVAILABLE`` (the run records the
decision as refused and places nothing), and the connection is tried again with a doubling
backoff. A request whose answer was lost is sent once more on a fresh connection: that is safe
because the suite answers a repeated client order id with the first result and sends nothing.

:func:`build_http_tools` is what the ``trading_core.tools`` entry point ``mcp`` names.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

import aiohttp
from fastmcp import Client
from fastmcp.client.auth import BearerAuth
from fastmcp.client.transports import StreamableHttpTransport

from trading_core.domain.errors import ConfigurationError, ToolsUnavailableError, TradingError
from trading_core.domain.order import Order
from trading_core.domain.state import Severity, SystemEvent
from trading_core.orchestrator.runner import RunServices, ToolsFactory
from trading_core.ports.tools import OrderTicket, PlaceResult, Tools
from trading_core.services.principals import AUTONOMOUS_PRINCIPAL, Principal
from trading_core.settings import Settings

from .tools_client import McpTools

FIRST_RETRY_SECONDS = 0.5
CLOSE_TIMEOUT_SECONDS = 2.0
STARTUP_CALL_TIMEOUT_SECONDS = 60.0
_T = TypeVar("_T")

ClientFactory = Callable[[], Client[Any]]
"""A new, unconnected client of the suite (one per connection attempt)."""


class ReconnectingMcpTools:
    """Implements ``Tools`` over a suite that may stop and come back.

    ``on_down(why)`` runs once when the suite stops answering, ``on_up()`` once when it answers
    again; ``before_read()`` runs before the run reads its book (after a listing and after each
    placement), so fills the suite's process booked are in the run's ledger when it sizes.
    """

    def __init__(
        self,
        connect: ClientFactory,
        *,
        where: str,
        call_timeout: float,
        reconnect_max: float,
        monotonic: Callable[[], float] = time.monotonic,
        on_down: Callable[[str], Awaitable[None]] | None = None,
        on_up: Callable[[], Awaitable[None]] | None = None,
        before_read: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._connect = connect
        self._where = where
        self._call_timeout = call_timeout
        self._reconnect_max = reconnect_max
        self._monotonic = monotonic
        self._on_down = on_down
        self._on_up = on_up
        self._before_read = before_read
        self._stack: AsyncExitStack | None = None
        self._tools: McpTools | None = None
        self._delay = FIRST_RETRY_SECONDS
        self._next_attempt = 0.0
        self._down_since: float | None = None
        self._why = ""

    @property
    def connected(self) -> bool:
        return self._tools is not None

    @property
    def problem(self) -> str:
        """Why the suite last failed to answer (empty if it never did)."""
        return self._why

    @property
    def client(self) -> Client[Any]:
        """The connected client (for calls beyond the port's three); refuses while down."""
        if self._tools is None:
            raise self._unavailable()
        return self._tools.client

    async def open(self) -> None:
        """Connect now; raises :class:`ToolsUnavailableError` if the suite does not answer."""
        await self._connected()

    async def close(self) -> None:
        await self._disconnect()

    async def place_order(self, ticket: OrderTicket) -> PlaceResult:
        result = await self._call(lambda tools: tools.place_order(ticket))
        await self._sync()
        return result

    async def cancel_order(self, order_id: str) -> Order:
        return await self._call(lambda tools: tools.cancel_order(order_id))

    async def open_orders(self, symbol: str) -> list[Order]:
        orders = await self._call(lambda tools: tools.open_orders(symbol))
        await self._sync()
        return orders

    async def _call(self, operation: Callable[[McpTools], Awaitable[_T]]) -> _T:
        # Twice at most: once on the connection we have, once on a fresh one if it was lost.
        for attempt in (1, 2):
            tools = await self._connected()
            try:
                async with asyncio.timeout(self._call_timeout):
                    return await operation(tools)
            except TradingError:
                raise  # the suite answered (a refusal, an unknown order): not an outage
            except Exception as exc:  # noqa: BLE001 - any transport failure: the suite is down
                await self._lost(_describe(exc))
                if attempt == 2:
                    break
        raise self._unavailable()

    async def _connected(self) -> McpTools:
        if self._tools is not None:
            return self._tools
        if self._monotonic() < self._next_attempt:
            raise self._unavailable()
        stack = AsyncExitStack()
        client = self._connect()
        try:
            async with asyncio.timeout(self._call_timeout):
                await stack.enter_async_context(client)
        except Exception as exc:  # noqa: BLE001 - refused, timed out, unauthorised: all "down"
            await _close_quietly(stack)
            await self._mark_down(_describe(exc))
            self._next_attempt = self._monotonic() + self._delay
            self._delay = min(self._delay * 2, self._reconnect_max)
            raise self._unavailable() from None
        self._stack, self._tools = stack, McpTools(client)
        self._delay = FIRST_RETRY_SECONDS
        if self._down_since is not None:
            self._down_since = None
            if self._on_up is not None:
                await self._on_up()
        return self._tools

    async def _lost(self, why: str) -> None:
        await self._disconnect()
        await self._mark_down(why)
        self._next_attempt = 0.0  # the retry reconnects at once; failures then back off

    async def _mark_down(self, why: str) -> None:
        self._why = why
        if self._down_since is None:
            self._down_since = self._monotonic()
            if self._on_down is not None:
                await self._on_down(why)

    async def _disconnect(self) -> None:
        stack, self._stack, self._tools = self._stack, None, None
        if stack is not None:
            await _close_quietly(stack)

    async def _sync(self) -> None:
        if self._before_read is not None:
            await self._before_read()

    def _unavailable(self) -> ToolsUnavailableError:
        left = max(0.0, self._next_attempt - self._monotonic())
        retry = f"; next try in {left:.1f} s" if left > 0 else ""
        return ToolsUnavailableError(
            f"the MCP suite at {self._where} does not answer ({self._why}){retry}: nothing sent"
        )


async def _close_quietly(stack: AsyncExitStack) -> None:
    # A connection to a server that went away may fail or hang on its way out: bounded, ignored.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
            await stack.aclose()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def autonomous_token(settings: Settings) -> str:
    """The bearer token naming ``trading-core`` among ``mcp.tokens``; refuses when unset."""
    for name, secret in settings.mcp.tokens.items():
        if Principal.for_token_name(name).name == AUTONOMOUS_PRINCIPAL:
            token = secret.get_secret_value().strip()
            if token:
                return token
    raise ConfigurationError(
        "--tools mcp calls the suite as trading-core: set TRADING_MCP__TOKENS__TRADING_CORE "
        "to the token the suite accepts for it"
    )


def build_http_tools(settings: Settings) -> ToolsFactory:
    """The ``trading_core.tools`` entry point: a run's tools over ``settings.tools.mcp_url``."""
    config = settings.tools
    url = config.mcp_url
    if url is None:  # choose_tools refuses this first; kept for direct callers
        raise ConfigurationError("--tools mcp needs --mcp-url")
    token = autonomous_token(settings)

    def connect() -> Client[Any]:
        transport = StreamableHttpTransport(url, auth=BearerAuth(token))
        return Client(transport, timeout=config.call_timeout_seconds)

    @asynccontextmanager
    async def factory(services: RunServices) -> AsyncIterator[Tools]:
        tools = reconnecting_tools(services, connect, where=url)
        try:
            await tools.open()
        except ToolsUnavailableError:
            raise ConfigurationError(await _why_not_at_start(url, token, tools.problem)) from None
        try:
            await check_same_market(tools, services, url)
            yield tools
        finally:
            await tools.close()

    return factory


async def _why_not_at_start(url: str, token: str, problem: str) -> str:
    """One line on why the suite cannot be used, naming a refused token as such."""
    status = await _http_status(url, token)
    if status in (401, 403):
        return (
            f"the MCP suite at {url} refused the trading-core token (HTTP {status}): set "
            "TRADING_MCP__TOKENS__TRADING_CORE to the token the suite has for trading-core"
        )
    return (
        f"the MCP suite at {url} does not answer ({problem}); start it first "
        "(mcp-suite --transport http) or correct --mcp-url"
    )


async def _http_status(url: str, token: str) -> int | None:
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
            http.post(url, headers=headers, data="{}") as response,
        ):
            return response.status
    except (aiohttp.ClientError, TimeoutError):
        return None


def reconnecting_tools(
    services: RunServices,
    connect: ClientFactory,
    *,
    where: str,
    monotonic: Callable[[], float] = time.monotonic,
) -> ReconnectingMcpTools:
    """Tools for ``services``' run: outages and recoveries are system events of its store."""
    config = services.settings.tools

    async def event(event_type: str, severity: Severity, message: str) -> None:
        await services.store.record_event(
            SystemEvent(
                timestamp=services.clock.now(),
                event_type=event_type,
                component="orchestrator",
                severity=severity,
                message=message,
                details={"run_id": services.run_id, "url": where},
            )
        )

    async def down(why: str) -> None:
        await event(
            "tools.unavailable",
            Severity.CRITICAL,
            f"the MCP suite at {where} stopped answering ({why}): decisions are refused "
            "until it answers again",
        )

    async def up() -> None:
        await event("tools.restored", Severity.INFO, f"the MCP suite at {where} answers again")

    return ReconnectingMcpTools(
        connect,
        where=where,
        call_timeout=config.call_timeout_seconds,
        reconnect_max=config.reconnect_max_seconds,
        monotonic=monotonic,
        on_down=down,
        on_up=up,
        before_read=services.book_sync,
    )


async def check_same_market(tools: ReconnectingMcpTools, services: RunServices, url: str) -> None:
    """Refuse a suite that prices this run's symbols from another feed than the run's own.

    The suite fills the run's paper orders at its own quotes: a suite on synthetic data filling
    orders decided on Kraken's prices would be trading another market.
    """
    client = tools.client
    wanted = str(services.settings.source)
    for symbol in services.symbols:
        try:
            # The suite opens its services on its first call (database, feed): allow for it.
            result = await client.call_tool(
                "get_quote",
                {"symbol": symbol},
                raise_on_error=False,
                timeout=STARTUP_CALL_TIMEOUT_SECONDS,
            )
        except Exception as exc:  # noqa: BLE001 - any failure here is a refusal to start
            raise ConfigurationError(
                f"the suite at {url} did not answer get_quote for {symbol} "
                f"({_describe(exc)}): nothing traded"
            ) from None
        content = result.structured_content if not result.is_error else None
        source = str((content or {}).get("source", ""))
        if source.split(":")[0] != wanted:
            shown = source or _text(result.content) or "no quote"
            raise ConfigurationError(
                f"the suite at {url} prices {symbol} from {shown!r}, this run trades {wanted}: "
                f"start the suite with TRADING_SOURCE={wanted} (and the same symbols)"
            )


def _text(content: Any) -> str:
    return next((str(block.text) for block in content if hasattr(block, "text")), "")[:200]
