"""Errors as clients see them: a stable code and a safe message, never a stack trace.

Every tool body runs inside :func:`tool_errors`: a ``TradingError`` becomes ``CODE: message``; a
validation error becomes ``INVALID_ARGUMENT: ...``; anything else is logged here and reported as
``INTERNAL_ERROR`` without its details (they may hold paths, SQL or secrets).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from fastmcp.exceptions import ToolError
from pydantic import ValidationError

from trading_core.domain.errors import TradingError

logger = logging.getLogger("mcp_servers")


def invalid_argument_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{where}: {str(err['msg']).removeprefix('Value error, ')}")
    return "INVALID_ARGUMENT: " + "; ".join(parts)


@contextmanager
def tool_errors() -> Iterator[None]:
    try:
        yield
    except ToolError:
        raise
    except TradingError as exc:
        raise ToolError(f"{exc.code}: {exc.message}") from None
    except ValidationError as exc:
        raise ToolError(invalid_argument_message(exc)) from None
    except Exception:
        logger.exception("tool failed")
        raise ToolError("INTERNAL_ERROR: the server failed on this request; see its log") from None
