"""Where a call of ours spends its time: a pyinstrument profile split along the suite's layers.

The MCP rows' profile note: the shared summary of :mod:`benchmarks.profiling`, plus the shares
of the layers a ``tools/call`` of the suite goes through (its middleware, the mounted server,
our tool, the refresh; over HTTP the SDK's per-call ``tools/list``; the per-server lookups
fastmcp gathers as tasks), against the floor's calls profiled the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from pyinstrument import Profiler
from pyinstrument.frame import Frame

from benchmarks.profiling import SAMPLE_INTERVAL_S, summarise

Call = Callable[[int], Awaitable[object]]
WARMUP_CALLS = 10
MIDDLEWARE = (("on_call_tool", "mcp_servers/middleware.py"),)
TOOL_FRAMES = (("get_quote", "mcp_servers/market_data.py"),)
REFRESH_FRAMES = (("refresh", "trading_core/services/container.py"),)
LISTING_FRAMES = (
    ("_on_list_tools", "fastmcp/server/mixins/mcp_operations.py"),
    ("_list_tools", "fastmcp/server/providers/fastmcp_provider.py"),
)
"""Where a ``tools/list`` of the suite spends its time, in the profile."""
TASK_FRAMES = (("run_at", "fastmcp/utilities/async_utils.py"),)
"""Tasks fastmcp gathers: the suite asking each mounted server (for a tool, or its list)."""


async def profile_calls(ours: Call, floor: Call, calls: int) -> tuple[list[str], str]:
    """Profile lines of ``calls`` calls of ours, and a note on the layers' shares.

    The floor's calls are profiled the same way after ours, for the comparison in the note.
    """
    root = await _sampled(ours, calls)
    floor_root = await _sampled(floor, calls)
    report = summarise(root, top=6, inclusive=True)
    total = report.total_seconds or 1.0
    handling = inclusive_seconds(root, MIDDLEWARE) / total
    mounted = inclusive_seconds(root, MIDDLEWARE, depth=2) / total
    tool = inclusive_seconds(root, TOOL_FRAMES) / total
    refresh = inclusive_seconds(root, REFRESH_FRAMES) / total
    # The SDK's listing runs the mounted servers' listings as tasks of their own: count both.
    listing = inclusive_seconds(root, LISTING_FRAMES) / total
    # Gathered tasks sit at the event loop's level, outside the call's own stack.
    lookups = inclusive_seconds(root, LISTING_FRAMES + TASK_FRAMES) / total - listing
    rest = max(0.0, 1 - handling - listing - lookups)
    per_call = total / calls
    floor_per_call = (floor_root.time if floor_root is not None else 0.0) / calls
    note = (
        f"Where the time goes, from the profile below ({calls} calls of ours, then {calls} of "
        "the floor's, sampled on the event loop's thread: waiting for SQLite on aiosqlite's "
        f"thread shows as epoll.poll). Under the profiler a call of ours samples "
        f"{_ms(per_call)} and one of the floor's {_ms(floor_per_call)}. Of ours, "
        f"{handling:.0%} is the server handling `tools/call` from the suite's middleware down: "
        f"{handling - mounted:.0%} the suite's own layer (routing to the mounted market-data "
        f"server) and {mounted:.0%} the mounted server's (its own copy of our argument "
        f"middleware runs again there), in which {tool:.0%} is our tool function `get_quote`, "
        f"and in that {refresh:.0%} `TradingApp.refresh`."
    )
    if listing > 0:
        note += f" The `tools/list` the SDK runs inside each call takes {listing:.0%}."
    note += (
        f" {lookups:.0%} is in tasks of their own, in which the suite asks each of its four "
        "mounted servers for the tool (fastmcp's AggregateProvider gathers the lookups). The "
        f"other {rest:.0%}, {_ms(rest * per_call)} a call, is fastmcp's client, the JSON-RPC "
        "session on both ends and the event loop; the floor's whole call samples "
        f"{_ms(floor_per_call)}."
    )
    return report.lines(), note


async def _sampled(call: Call, calls: int) -> Frame | None:
    """The profile tree of ``calls`` calls, after a few unprofiled ones."""
    for round_ in range(WARMUP_CALLS):
        await call(round_)
    profiler = Profiler(interval=SAMPLE_INTERVAL_S, async_mode="disabled")
    profiler.start()
    try:
        for round_ in range(calls):
            await call(round_)
    finally:
        session = profiler.stop()
    return session.root_frame()


def inclusive_seconds(
    root: Frame | None, targets: Sequence[tuple[str, str]], *, depth: int = 1
) -> float:
    """Seconds sampled inside any of ``targets`` (function name, end of its file's path).

    Counts the frames that are the ``depth``-th target on their stack (1 = outermost), so a
    target found again below itself is not counted twice.
    """
    if root is None:
        return 0.0
    seconds = 0.0
    stack: list[tuple[Frame, int]] = [(root, 0)]
    while stack:
        frame, above = stack.pop()
        path = frame.file_path or ""
        if any(frame.function == name and path.endswith(end) for name, end in targets):
            above += 1
            if above == depth:
                seconds += frame.time
                continue
        stack.extend((child, above) for child in frame.children)
    return seconds


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms"
