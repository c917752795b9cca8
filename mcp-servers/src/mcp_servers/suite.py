"""``mcp-suite``: the four servers mounted in one process, with the same tool names."""

from __future__ import annotations

from typing import Any

from fastmcp import FastMCP

from .common import new_server
from .market_data import build_market_data_server
from .portfolio import build_portfolio_server
from .risk import build_risk_server
from .runtime import Runtime
from .trading import build_trading_server

BUILDERS = {
    "market-data": build_market_data_server,
    "trading": build_trading_server,
    "risk": build_risk_server,
    "portfolio": build_portfolio_server,
}


def build_suite(runtime: Runtime) -> FastMCP[Any]:
    """All four servers, sharing one set of services (one account view, one database)."""
    suite = new_server(
        "trading-suite",
        "Market data, trading, risk and portfolio tools of one paper-trading account. Every "
        "order passes hard-coded guardrails; large orders and any loosening wait for a person.",
        runtime,
    )
    for build in BUILDERS.values():
        suite.mount(build(runtime))
    return suite


def build_server(name: str, runtime: Runtime) -> FastMCP[Any]:
    """The server called ``name`` (one of the four, or ``suite``)."""
    if name == "suite":
        return build_suite(runtime)
    return BUILDERS[name](runtime)
