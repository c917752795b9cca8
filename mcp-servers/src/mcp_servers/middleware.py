"""Middleware of every server: readable argument errors, results rounded for reading."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastmcp.exceptions import ToolError
from fastmcp.exceptions import ValidationError as ArgumentsError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import ToolResult
from pydantic import ValidationError

from trading_core.reporting.rounding import TickOf, round_payload
from trading_core.services.container import TradingApp
from trading_core.services.principals import PrincipalKind

from .errors import invalid_argument_message
from .runtime import Runtime, current_principal


class ArgumentErrorsMiddleware(Middleware):
    """Turns the framework's argument validation errors into ``INVALID_ARGUMENT: ...``.

    The framework's own text carries pydantic's internals (type names, documentation links); a
    model choosing its next call needs which argument is wrong and why, under a stable code.
    """

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        try:
            return await call_next(context)
        except (ArgumentsError, ValidationError) as exc:
            cause = exc if isinstance(exc, ValidationError) else exc.__cause__
            if isinstance(cause, ValidationError):
                raise ToolError(invalid_argument_message(cause)) from None
            raise ToolError(f"INVALID_ARGUMENT: {exc}") from None


class RoundedResultsMiddleware(Middleware):
    """Rounds money, prices and percentages in every tool result (the system's one policy).

    The services answer at full precision; a person or a model reading
    ``"98921.250387870122887271490"`` learns nothing from the last 20 digits. The policy is
    :func:`trading_core.reporting.rounding.round_payload`: money to its currency's places, prices
    to the instrument's tick, percentages to six places. Errors pass through untouched.

    trading-core's own loop (the autonomous principal) gets every digit: it is a machine that
    sizes from these numbers, and its decisions through MCP must equal its decisions in process.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        result = await call_next(context)
        app = self._runtime.opened_app
        if (
            not isinstance(result, ToolResult)
            or result.is_error
            or result.structured_content is None
            or app is None
            or current_principal().kind is PrincipalKind.AUTONOMOUS
        ):
            return result
        rounded = round_payload(
            result.structured_content, currency=app.account.currency, tick_of=_ticks(app)
        )
        if rounded == result.structured_content:
            return result
        return ToolResult(content=rounded, structured_content=rounded, meta=result.meta)


def _ticks(app: TradingApp) -> TickOf:
    def tick_of(symbol: str) -> Decimal | None:
        return app.instruments.get(symbol).tick_size if symbol in app.instruments else None

    return tick_of
