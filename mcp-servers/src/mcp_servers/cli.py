"""Console scripts: mcp-market-data, mcp-trading, mcp-risk, mcp-portfolio and mcp-suite.


stdio (the default) is what Claude Desktop and Claude Code launch; nothing but the protocol may
reach stdout, so logs go to stderr. HTTP is streamable HTTP bound to 127.0.0.1 unless configured
otherwise, refuses requests without a configured bearer token, checks Host and Origin, and
rate-limits each principal.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from fastmcp import FastMCP
from fastmcp.server.middleware.middleware import MiddlewareContext
from fastmcp.server.middleware.rate_limiting import RateLimitingMiddleware

from trading_core.domain.errors import TradingError
from trading_core.services.container import preflight
from trading_core.settings import Settings, load_settings

from .auth import PrincipalTokenVerifier
from .metrics import McpMetrics, serve_metrics
from .runtime import Runtime
from .suite import build_server


def _parser(name: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"mcp-{name}", description=f"The {name} MCP server of the trading system."
    )
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--host", default=None, help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default 8765)")
    return parser


def _principal_of(context: MiddlewareContext[object]) -> str:
    from fastmcp.server.dependencies import get_access_token

    token = get_access_token()
    return token.client_id if token is not None else "anonymous"


def serve(name: str, argv: Sequence[str] | None = None) -> int:
    """Run server ``name`` with the command-line options in ``argv``."""
    args = _parser(name).parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    try:
        settings = load_settings()
        preflight(settings)
        if args.transport == "http":
            _check_http(settings)
    except TradingError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
    runtime = Runtime(settings)
    server = build_server(name, runtime)
    if args.transport == "stdio":
        server.run(transport="stdio", show_banner=False)
        return 0
    asyncio.run(prepare_for_http(server, settings))
    server.run(
        transport="http",
        show_banner=False,
        host=args.host or settings.mcp.host,
        port=args.port if args.port is not None else settings.mcp.port,
        host_origin_protection=True,
        allowed_origins=settings.mcp.allowed_origins or None,
    )
    return 0


async def prepare_for_http(server: FastMCP[Any], settings: Settings) -> None:
    """What a server gets before it serves HTTP: bearer tokens naming principals, each tool's
    input schema cached, its metrics at ``/metrics``, and a rate limit per principal."""
    server.auth = PrincipalTokenVerifier(settings.mcp.tokens)
    await cache_input_schemas(server)
    serve_metrics(server, McpMetrics())
    server.add_middleware(
        RateLimitingMiddleware(
            max_requests_per_second=settings.mcp.requests_per_second,
            burst_capacity=settings.mcp.burst,
            get_client_id=_principal_of,
        )
    )


async def cache_input_schemas(server: FastMCP[Any]) -> None:
    """Give the HTTP layer each tool's input schema up front.

    Before every call with arguments the SDK checks ``Mcp-Param-*`` headers against the tool's
    schema; without this lookup it finds the schema by running a whole ``tools/list`` (30 tools
    through four mounted servers) on every call, which was most of a call's time over HTTP.
    The tools are fixed once the server is built, so the schemas are computed once.
    """
    schemas = {tool.name: tool.parameters for tool in await server.list_tools()}
    server._mcp_server.get_tool_input_schema = schemas.get


def _check_http(settings: Settings) -> None:
    if not any(token.get_secret_value() for token in settings.mcp.tokens.values()):
        raise TradingError(
            "HTTP needs at least one bearer token: set TRADING_MCP__TOKENS__<principal>=<token> "
            "(e.g. TRADING_MCP__TOKENS__ASSISTANT=...)",
            code="CONFIGURATION_ERROR",
        )


def _entry(name: str) -> Callable[[], None]:
    def main() -> None:
        sys.exit(serve(name))

    main.__name__ = f"main_{name.replace('-', '_')}"
    return main


market_data = _entry("market-data")
trading = _entry("trading")
risk = _entry("risk")
portfolio = _entry("portfolio")
suite = _entry("suite")
