"""The floor of the MCP rows: a bare fastmcp server whose one tool returns a constant.

The tool takes the same ``symbol`` argument as ``get_quote`` (and ignores it), so both sides send
the same request: a call with arguments is not the same work as one without (over streamable
HTTP the SDK checks ``Mcp-Param-*`` headers against the tool's input schema only when there are
arguments). The constant has the fields of ``get_quote``'s answer with values of the same
length, so both sides move about the same bytes. Imported for the in-memory row; run as a
script (it imports nothing of the project) for the stdio and HTTP rows::

    python benchmarks/bare_mcp_server.py                                   # stdio
    python benchmarks/bare_mcp_server.py --transport http --port P --token T
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastmcp import FastMCP
from fastmcp.server.auth.providers.jwt import StaticTokenVerifier

SCRIPT = Path(__file__).resolve()
TOOL = "constant"
CONSTANT: dict[str, Any] = {
    "symbol": "BTC/USD",
    "bid": "39529.1",
    "ask": "39548.9",
    "last": "39539.0",
    "mid": "39539.0",
    "volume": "24.4102",
    "timestamp": "2026-01-05T12:00:00Z",
    "source": "synthetic:42",
    "age_seconds": 30.0,
    "stale": False,
}
"""What ``get_quote`` of BTC/USD answers on the synthetic feed, frozen."""


def build_bare_server(token: str | None = None) -> FastMCP[Any]:
    """The bare server; with ``token``, bearer auth on that one token (as ours over HTTP)."""
    auth = None
    if token is not None:
        auth = StaticTokenVerifier({token: {"client_id": "assistant", "scopes": []}})
    server: FastMCP[Any] = FastMCP("bare", auth=auth)

    @server.tool(name=TOOL)
    def constant(symbol: str) -> dict[str, Any]:
        """Return a constant quote-shaped dict, whatever the symbol."""
        return CONSTANT

    return server


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The bare MCP server of the benchmarks.")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--token", default=None, help="bearer token required over HTTP")
    args = parser.parse_args(argv)
    if args.transport == "stdio":
        build_bare_server().run(transport="stdio", show_banner=False)
        return 0
    build_bare_server(args.token).run(
        transport="http",
        show_banner=False,
        host="127.0.0.1",
        port=args.port,
        host_origin_protection=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
