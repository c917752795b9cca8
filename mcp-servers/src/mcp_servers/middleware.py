"""Middleware of every server: argument errors as ``INVALID_ARGUMENT`` with a readable message."""

from __future__ import annotations

from typing import Any

from fastmcp.exceptions import ToolError
from fastmcp.exceptions import ValidationError as ArgumentsError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from pydantic import ValidationError

from .errors import invalid_argument_message


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
