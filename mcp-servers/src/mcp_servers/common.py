"""Shared pieces of the four servers: argument types, annotations, server construction."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastmcp import FastMCP
from mcp.types import ToolAnnotations
from pydantic import Field

from .middleware import ArgumentErrorsMiddleware, RoundedResultsMiddleware
from .runtime import Runtime

READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, openWorldHint=False)
"""A tool that only reads."""
CREATES_RISK = ToolAnnotations(readOnlyHint=False, destructiveHint=True, openWorldHint=True)
"""A tool that can send an order or loosen a control (hints only: the server enforces)."""
REDUCES_RISK = ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=True)
"""A tool that changes state only toward less risk (cancel, pause)."""
LOOSENS_OR_STOPS = ToolAnnotations(readOnlyHint=False, destructiveHint=True, openWorldHint=True)
"""A tool whose effect is drastic either way: a loosening (limits, resume) or the kill switch."""

Symbol = Annotated[
    str, Field(min_length=1, max_length=32, description="Instrument symbol, e.g. BTC/USD")
]
ChartTimeframe = Literal["1m", "5m", "15m", "1h", "4h", "1d"]


Since = Annotated[
    datetime | None,
    Field(description="ISO 8601 timestamp with a timezone; only items from then on"),
]
Limit = Annotated[int, Field(ge=1, le=1000, description="Most items to return")]


def new_server(name: str, instructions: str, runtime: Runtime, **kwargs: Any) -> FastMCP[Any]:
    """A server with the project's defaults: strict inputs, masked errors, stable error codes."""
    return FastMCP(
        name,
        instructions=instructions,
        mask_error_details=True,
        strict_input_validation=True,
        on_duplicate="error",
        lifespan=runtime.lifespan,
        middleware=[ArgumentErrorsMiddleware(), RoundedResultsMiddleware(runtime)],
        **kwargs,
    )
