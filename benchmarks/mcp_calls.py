"""Rows: one MCP tool call, ``get_quote`` of BTC/USD, in memory, over stdio and over HTTP.

Our side is the real suite (the four servers mounted, as ``mcp-suite`` serves them) on a scratch
embedded SQLite database, with the repository's configuration, the system clock and the
synthetic feed. The floor is a bare FastMCP server whose one tool takes the same argument and
returns a constant with the same fields (:mod:`benchmarks.bare_mcp_server`), reached over the
same transport by a client with the same settings. A sample is one ``call_tool`` round trip as
a client sees it (request, server work, answer, the client parsing it), timed on its own; ours
and the floor take turns.

``get_quote`` adopts the store's state on every call (``Runtime.app`` -> ``TradingApp.refresh``),
so the ratio holds that refresh besides the quote itself and the suite's own framework cost
(mount routing, middleware, output validation), and over HTTP whatever the transport does per
call that depends on the server's tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

from fastmcp import Client

from benchmarks.bare_mcp_server import CONSTANT, TOOL, build_bare_server
from benchmarks.environment import versions
from benchmarks.harness import (
    Measurement,
    Progress,
    RowResult,
    cost_ratio,
    is_poor,
    share_of_gap,
    time_round_robin_async,
)
from benchmarks.mcp_profile import profile_calls
from benchmarks.mcp_transports import (
    http_pair,
    in_process_http,
    scratch_settings,
    stdio_pair,
    suite_behind_token,
)
from mcp_servers.runtime import Runtime
from mcp_servers.suite import build_suite

IN_MEMORY_KEY = "mcp_in_memory"
IN_MEMORY_TITLE = "MCP tool call (`get_quote`), in-memory"
STDIO_KEY = "mcp_stdio"
STDIO_TITLE = "MCP tool call (`get_quote`), stdio"
HTTP_KEY = "mcp_http"
HTTP_TITLE = "MCP tool call (`get_quote`), streamable HTTP"

QUOTE_TOOL = "get_quote"
SYMBOL = "BTC/USD"
ARGUMENTS = {"symbol": SYMBOL}


class Sizes(NamedTuple):
    """Timed calls per side, warm-up calls, and calls profiled when the ratio is poor."""

    n: int
    warmup: int
    profile_calls: int


SIZES = Sizes(n=300, warmup=30, profile_calls=100)
HTTP_SIZES = Sizes(n=100, warmup=10, profile_calls=30)
"""Fewer over HTTP, where our calls are tens of milliseconds (see the listing note)."""

Call = Callable[[int], Awaitable[object]]
Pair = tuple[tuple[Client[Any], Client[Any]], str]
Connect = Callable[[Path], contextlib.AbstractAsyncContextManager[Pair]]


class RowEntry(NamedTuple):
    """One row of this module: its key, its title in the table, and how to run it."""

    key: str
    title: str
    run: Callable[[Progress], RowResult]


def run_in_memory(progress: Progress) -> RowResult:
    """Both servers in this process, reached through fastmcp's in-memory transport."""
    return asyncio.run(_in_memory(_new_row(IN_MEMORY_KEY, IN_MEMORY_TITLE), progress))


def run_stdio(progress: Progress) -> RowResult:
    """``mcp-suite`` and the bare server as child processes, one stdio pipe each."""
    row = _new_row(STDIO_KEY, STDIO_TITLE)
    return asyncio.run(_over_transport(row, progress, "stdio", stdio_pair, SIZES))


def run_http(progress: Progress) -> RowResult:
    """``mcp-suite --transport http`` and the bare server over HTTP, both behind a bearer token."""
    row = _new_row(HTTP_KEY, HTTP_TITLE, "uvicorn", "starlette", "httpx2")
    return asyncio.run(_over_transport(row, progress, "HTTP", http_pair, HTTP_SIZES))


ROWS = (
    RowEntry(IN_MEMORY_KEY, IN_MEMORY_TITLE, run_in_memory),
    RowEntry(STDIO_KEY, STDIO_TITLE, run_stdio),
    RowEntry(HTTP_KEY, HTTP_TITLE, run_http),
)


def _new_row(key: str, title: str, *more_versions: str) -> RowResult:
    return RowResult(
        key=key,
        path=title,
        sample="call",
        kind="latency",
        unit="ms per call",
        versions=versions(
            "mcp-servers", "trading-core", "fastmcp", "mcp", "pydantic", "aiosqlite", *more_versions
        ),
    )


# ---- in memory -----------------------------------------------------------------------------------


async def _in_memory(row: RowResult, progress: Progress) -> RowResult:
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as scratch:
        runtime = Runtime(scratch_settings(Path(scratch)))
        suite, bare = build_suite(runtime), build_bare_server()
        try:
            async with (
                Client(suite, mode="auto") as ours,
                Client(bare, mode="auto") as base,
                Client(suite, mode="legacy") as ours_legacy,
                Client(bare, mode="legacy") as base_legacy,
            ):
                await _check(ours, base)
                await _check(ours_legacy, base_legacy)

                async def refresh(_round: int) -> None:
                    await runtime.app()

                progress(
                    f"{SIZES.warmup} warm-up + {SIZES.n} calls each: ours / bare (auto), the "
                    "refresh alone, "
                    "ours / bare (legacy), taking turns"
                )
                gc.collect()
                (
                    ours_ns,
                    base_ns,
                    refresh_ns,
                    ours_legacy_ns,
                    base_legacy_ns,
                ) = await time_round_robin_async(
                    (
                        _quote(ours),
                        _constant(base),
                        refresh,
                        _quote(ours_legacy),
                        _constant(base_legacy),
                    ),
                    n=SIZES.n,
                    warmup=SIZES.warmup,
                )
                row.ours = _measurement(QUOTE_TOOL, "suite", "in memory", ours_ns, SIZES)
                row.baseline = _measurement(TOOL, "bare", "in memory", base_ns, SIZES)
                row.notes.append(_setup_note("fastmcp's in-memory transport"))
                refreshed = Measurement.from_ns("runtime.app()", refresh_ns, 1, SIZES.warmup)
                row.notes.append(_refresh_note(row, refreshed))
                legacy = (
                    Measurement.from_ns("ours, legacy", ours_legacy_ns, 1, SIZES.warmup),
                    Measurement.from_ns("bare, legacy", base_legacy_ns, 1, SIZES.warmup),
                )
                row.notes.append(_legacy_note(row, *legacy))
                if is_poor(row.ratio):
                    progress("profiling our side")
                    row.profile, note = await _profile(ours, base, SIZES)
                    row.notes.append(note)
        finally:
            await runtime.close()
    return row


def _refresh_note(row: RowResult, refreshed: Measurement) -> str:
    row.diagnostics["refresh_alone_p50_s"] = refreshed.summary.p50
    text = (
        "Diagnostic, timed in turn with the two sides: `await runtime.app()` alone (what "
        "`get_quote` runs first: `TradingApp.refresh`, which re-reads the trading state, the "
        "limits and the fills from the store, feeds new quotes to the paper broker and runs the "
        f"breakers) takes p50 {_ms(refreshed.summary.p50)}, p99 {_ms(refreshed.summary.p99)}."
    )
    share = _share(row, refreshed.summary.p50)
    if share is None:
        return text
    row.diagnostics["gap_share_refresh"] = share
    return (
        f"{text} The refresh is {share:.0%} of our gap to the floor; the rest is the suite's "
        "routing (it asks each of its four mounted servers for the tool, in tasks of their "
        "own), our argument middleware (once in the suite, again in the mounted server), the "
        "quote, and our richer result (QuoteResult validated and serialised, then parsed by "
        "the client against its output schema)."
    )


def _legacy_note(row: RowResult, ours: Measurement, base: Measurement) -> str:
    ratio = cost_ratio(ours, base)
    row.diagnostics["legacy_ratio"] = ratio
    return (
        'The same calls in `mode="legacy"` (the 2025-11-25 protocol era), timed in the same '
        f"rounds: ours p50 {_ms(ours.summary.p50)}, bare p50 {_ms(base.summary.p50)}, "
        f"ratio {ratio:.2f}×."
    )


# ---- stdio and HTTP ------------------------------------------------------------------------------


async def _over_transport(
    row: RowResult, progress: Progress, transport: str, connect: Connect, sizes: Sizes
) -> RowResult:
    """Time both servers over ``transport``; over HTTP, our ``tools/list`` as a diagnostic."""
    with tempfile.TemporaryDirectory(prefix="bench-mcp-") as scratch_dir:
        scratch = Path(scratch_dir)
        async with connect(scratch) as ((ours, base), how):
            progress(f"both servers answer over {transport}")
            await _check(ours, base)
            works = [_quote(ours), _constant(base)]
            if transport == "HTTP":
                tools = len(await ours.list_tools())
                works.append(_list_tools(ours))
            progress(f"{sizes.warmup} warm-up + {sizes.n} calls each over {transport}, in turn")
            gc.collect()
            samples = await time_round_robin_async(works, n=sizes.n, warmup=sizes.warmup)
        row.ours = _measurement(QUOTE_TOOL, "mcp-suite", transport, samples[0], sizes)
        row.baseline = _measurement(TOOL, "bare", transport, samples[1], sizes)
        row.notes.append(_setup_note(how))
        if transport == "HTTP":
            listed = Measurement.from_ns("ours.list_tools()", samples[2], 1, sizes.warmup)
            row.notes.append(_listing_note(row, listed, tools))
        else:
            row.notes.append(_transport_note(row, transport))
        if is_poor(row.ratio):
            await _profile_transport(row, progress, transport, scratch, sizes)
    return row


async def _profile_transport(
    row: RowResult, progress: Progress, transport: str, scratch: Path, sizes: Sizes
) -> None:
    """The servers run in other processes: profile the same calls in this one instead."""
    runtime = Runtime(scratch_settings(scratch / "profiled"))
    try:
        if transport == "HTTP":
            progress("profiling the same calls over HTTP, servers and clients in this process")
            token = secrets.token_hex(24)
            async with (
                in_process_http(await suite_behind_token(runtime, token), token) as ours,
                in_process_http(build_bare_server(token), token) as floor,
            ):
                lines, note = await _profile(ours, floor, sizes)
            heading = "ours over HTTP, server and client profiled together in this process"
        else:
            progress(f"profiling the same calls in memory (the servers' work, no {transport} hop)")
            async with (
                Client(build_suite(runtime), mode="auto") as ours,
                Client(build_bare_server(), mode="auto") as floor,
            ):
                lines, note = await _profile(ours, floor, sizes)
            heading = f"our server's work: the same call profiled in memory (no {transport} hop)"
    finally:
        await runtime.close()
    row.profile = [heading, *lines]
    row.notes.append(note)


def _transport_note(row: RowResult, transport: str) -> str:
    """What the gap over a transport is made of (the hop itself is on both sides)."""
    if row.ours is None or row.baseline is None:
        return ""
    gap = row.ours.summary.p50 - row.baseline.summary.p50
    row.diagnostics["gap_p50_s"] = gap
    both = (
        f"Both sides pay the {transport} hop (the floor is a bare tool behind the same "
        "transport). The servers are separate processes, so on a loaded machine scheduling "
        "delays land in both sides' samples."
    )
    if gap <= 0:
        return f"{both} Here the hop hides our server's extra work: ours is at the floor."
    return (
        f"{both} Our gap at the median, {_ms(gap)} per call, is our server's work (the "
        "refresh, the suite's routing and middleware, the quote) and our somewhat larger "
        "messages; the in-memory row splits that work."
    )


def _listing_note(row: RowResult, listed: Measurement, tools: int) -> str:
    """The per-call ``tools/list`` the SDK runs over streamable HTTP, and its share of our gap."""
    row.diagnostics["list_tools_p50_s"] = listed.summary.p50
    text = (
        "Where the time goes: over streamable HTTP in the 2026-07-28 era, the SDK's request "
        "handler (mcp's `_streamable_http_modern._mcp_param_rejection`) checks `Mcp-Param-*` "
        "headers against the called tool's input schema before dispatch, and when the server "
        "offers no `get_tool_input_schema` (fastmcp sets none) it finds that schema by running "
        "the server's whole `tools/list` inside every `tools/call` that has arguments. Ours "
        f"lists {tools} tools through four mounted servers (each with its middleware, $ref "
        "dereferencing and visibility transforms); the floor lists one. Diagnostic, timed in "
        f"turn with the two sides: `tools/list` on ours over HTTP takes p50 "
        f"{_ms(listed.summary.p50)}, p99 {_ms(listed.summary.p99)}."
    )
    share = _share(row, listed.summary.p50)
    if share is None:
        return text
    row.diagnostics["gap_share_list_tools"] = share
    lever = (
        " Giving the suite's low-level server a `get_tool_input_schema` lookup would skip the "
        "listing."
    )
    if share >= 1:
        return (
            f"{text} That alone is as long as our whole gap to the floor (a `tools/list` over "
            "the wire also serialises the schemas and the client parses them, which the "
            "listing inside a call does not; the profile below gives the listing's share of a "
            f"call).{lever}"
        )
    return (
        f"{text} That is {share:.0%} of our gap to the floor (which pays the listing for its "
        "one tool too); the rest is what the in-memory row shows (the refresh, the suite's "
        f"routing, the quote).{lever}"
    )


# ---- shared --------------------------------------------------------------------------------------


def _quote(client: Client[Any]) -> Call:
    async def call(_round: int) -> None:
        await client.call_tool(QUOTE_TOOL, ARGUMENTS)

    return call


def _constant(client: Client[Any]) -> Call:
    async def call(_round: int) -> None:
        await client.call_tool(TOOL, ARGUMENTS)

    return call


def _list_tools(client: Client[Any]) -> Call:
    async def call(_round: int) -> None:
        await client.list_tools()

    return call


async def _check(ours: Client[Any], base: Client[Any]) -> None:
    """Both tools answer what they should (call_tool raises on a tool error)."""
    quote = (await ours.call_tool(QUOTE_TOOL, ARGUMENTS)).structured_content
    if quote is None or quote.get("symbol") != SYMBOL or set(quote) != set(CONSTANT):
        raise AssertionError(f"get_quote answered {quote!r}")
    constant = (await base.call_tool(TOOL, ARGUMENTS)).structured_content
    if constant != CONSTANT:
        raise AssertionError(f"the bare tool answered {constant!r}")


async def _profile(ours: Client[Any], floor: Client[Any], sizes: Sizes) -> tuple[list[str], str]:
    return await profile_calls(_quote(ours), _constant(floor), sizes.profile_calls)


def _measurement(
    tool: str, server: str, transport: str, samples_ns: list[int], sizes: Sizes
) -> Measurement:
    label = f'client.call_tool("{tool}", {{"symbol": "{SYMBOL}"}}) on {server}, {transport}'
    return Measurement.from_ns(label, samples_ns, 1, sizes.warmup)


def _share(row: RowResult, part: float) -> float | None:
    """Which share of our median gap to the floor a cost of ``part`` seconds accounts for."""
    if row.ours is None or row.baseline is None:
        return None
    base = row.baseline.summary.p50
    return share_of_gap(row.ours.summary.p50, base, base + part)


def _setup_note(transport: str) -> str:
    return (
        f'Transport: {transport}; clients in `mode="auto"` on both sides. Each call timed on '
        "its own with perf_counter_ns, ours and the floor taking turns. Ours: the suite (four "
        "servers mounted, argument middleware, strict input validation) on a scratch SQLite "
        f"database with config/, the system clock and the synthetic feed, answering {SYMBOL}; "
        'the floor: `FastMCP("bare")` with one tool that takes the same `symbol` argument and '
        "returns a constant dict of the same ten fields, no middleware. Besides the quote, our "
        "side pays `TradingApp.refresh` on every call (state, limits and fills re-read from "
        "the store)."
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms"
