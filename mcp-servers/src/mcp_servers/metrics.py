"""The suite's Prometheus metrics: tool calls and their latency, refusals by reason, approvals.

One :class:`McpMetrics` per served process, on a registry of its own, counted by
:class:`ToolMetricsMiddleware` at the outermost server (so a call through the mounted servers
counts once) and served at ``/metrics`` beside ``/mcp`` over HTTP.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import ToolResult
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response

TOOL_LATENCY_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
SERVER_FAULTS: Final = frozenset(
    {
        "INTERNAL_ERROR",
        "STORAGE_UNAVAILABLE",
        "BUS_UNAVAILABLE",
        "BROKER_ERROR",
        "DATA_ERROR",
        "TOOLS_UNAVAILABLE",
        "CONFIGURATION_ERROR",
    }
)
"""Codes that mean the server could not do its job (``error``); any other code is the server
refusing the request (``refused``): a guardrail, an unknown order, a bad argument."""
APPROVAL_TOOLS: Final = frozenset({"approve_order", "reject_order"})
_CODED = re.compile(r"^([A-Z][A-Z0-9_]*): ")


class McpMetrics:
    """Counters and the latency histogram of one serving process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._calls = Counter(
            "mcp_tool_calls", "Tool calls, by tool and outcome.", ["tool", "outcome"], registry=r
        )
        self._latency = Histogram(
            "mcp_tool_call_duration_seconds",
            "Time to answer a tool call, by tool.",
            ["tool"],
            buckets=TOOL_LATENCY_BUCKETS,
            registry=r,
        )
        self._refusals = Counter(
            "mcp_refusals", "Requests refused, by reason (the stable code).", ["reason"], registry=r
        )
        self._approvals = Counter(
            "mcp_approvals", "Approval requests answered, by outcome.", ["outcome"], registry=r
        )

    def observe_call(
        self, tool: str, outcome: str, seconds: float, reasons: Iterable[str] = ()
    ) -> None:
        self._calls.labels(tool=tool, outcome=outcome).inc()
        self._latency.labels(tool=tool).observe(max(0.0, seconds))
        for reason in reasons:
            self._refusals.labels(reason=reason).inc()

    def record_approval(self, outcome: str) -> None:
        self._approvals.labels(outcome=outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class ToolMetricsMiddleware(Middleware):
    """Counts every tool call: ``ok``, ``refused`` (with its reasons) or ``error``."""

    def __init__(
        self, metrics: McpMetrics, *, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        self._metrics = metrics
        self._timer = timer

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        tool = str(getattr(context.message, "name", "unknown"))
        started = self._timer()
        try:
            result = await call_next(context)
        except ToolError as exc:
            code = _code_of(str(exc))
            refused = code is not None and code not in SERVER_FAULTS
            self._metrics.observe_call(
                tool,
                "refused" if refused else "error",
                self._timer() - started,
                [code] if refused and code is not None else [],
            )
            raise
        except Exception:
            self._metrics.observe_call(tool, "error", self._timer() - started)
            raise
        content = result.structured_content if isinstance(result, ToolResult) else None
        outcome, reasons = _outcome_of(content)
        self._metrics.observe_call(tool, outcome, self._timer() - started, reasons)
        if tool in APPROVAL_TOOLS and isinstance(content, dict):
            status = str(content.get("status", ""))
            if status and status != "pending":
                self._metrics.record_approval(status)
        return result


def _code_of(message: str) -> str | None:
    coded = _CODED.match(message)
    return coded.group(1) if coded else None


def _outcome_of(content: object) -> tuple[str, list[str]]:
    """A placement the guardrails refused answers normally: status ``rejected``, violations.

    (A rejected *approval* has that status too, but no violations: a person's answer, ok.)
    """
    if (
        isinstance(content, dict)
        and content.get("status") == "rejected"
        and "violations" in content
    ):
        violations = content.get("violations") or []
        codes = [str(v.get("code")) for v in violations if isinstance(v, dict) and v.get("code")]
        return "refused", codes or ["REJECTED"]
    return "ok", []


def serve_metrics(server: FastMCP[Any], metrics: McpMetrics) -> None:
    """Count ``server``'s tool calls and answer ``GET /metrics`` on its HTTP app."""
    server.add_middleware(ToolMetricsMiddleware(metrics))

    @server.custom_route("/metrics", methods=["GET"])
    async def _metrics(_request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
