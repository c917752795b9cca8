"""Where our side spends its time: a pyinstrument profile boiled down to a few lines.

Two views, both short enough for a note in BENCHMARKS.md:

- *self time*: the functions the samples were actually in (C calls, waits on a socket included),
  which is where the time burns;
- *by our innermost function*: each sample charged to the deepest project function
  (trading_core, trading_agents) on its stack, library calls included, which is where a change
  would have to start. Samples with no project frame (the event loop waiting on I/O, benchmark
  glue) are charged to their own frame, marked "not in our code".

A third, optional view (for long pipelines whose cost is spread thin) lists our functions by
inclusive time, leaving out the entry points that contain most of the run anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from pyinstrument import Profiler
from pyinstrument.frame import Frame

from benchmarks.environment import REPO_ROOT

SAMPLE_INTERVAL_S = 0.0005
OUR_PACKAGES = ("/trading_core/", "/trading_agents/")
ENTRY_POINT_SHARE = 0.6
"""In the inclusive view, functions holding at least this share of the time are left out."""


@dataclass(frozen=True)
class FrameTime:
    label: str
    seconds: float
    share: float


@dataclass(frozen=True)
class ProfileReport:
    total_seconds: float
    by_self_time: list[FrameTime]
    by_our_function: list[FrameTime]
    inclusive: list[FrameTime]

    def lines(self) -> list[str]:
        """Plain-text lines: the top frames by self time, then by our innermost function."""
        out = [f"profile of our side ({self.total_seconds:.2f} s sampled); top self time:"]
        out += [f"  {f.share:6.1%}  {f.label}" for f in self.by_self_time]
        out.append("charged to our innermost function (library calls below it included):")
        out += [f"  {f.share:6.1%}  {f.label}" for f in self.by_our_function]
        if self.inclusive:
            out.append(
                f"our functions by inclusive time (those above {ENTRY_POINT_SHARE:.0%} left out):"
            )
            out += [f"  {f.share:6.1%}  {f.label}" for f in self.inclusive]
        return out


def profile_sync(
    work: Callable[[], object], *, top: int = 5, inclusive: bool = False
) -> ProfileReport:
    profiler = Profiler(interval=SAMPLE_INTERVAL_S, async_mode="disabled")
    profiler.start()
    try:
        work()
    finally:
        session = profiler.stop()
    return summarise(session.root_frame(), top=top, inclusive=inclusive)


async def profile_async(work: Callable[[], Awaitable[object]], *, top: int = 5) -> ProfileReport:
    """Profile a coroutine in the running loop; time waiting in the loop counts as the loop's."""
    profiler = Profiler(interval=SAMPLE_INTERVAL_S, async_mode="disabled")
    profiler.start()
    try:
        await work()
    finally:
        session = profiler.stop()
    return summarise(session.root_frame(), top=top)


def summarise(root: Frame | None, *, top: int = 5, inclusive: bool = False) -> ProfileReport:
    if root is None or root.time <= 0:
        return ProfileReport(0.0, [], [], [])
    total = root.time
    self_time: dict[str, float] = {}
    charged: dict[str, float] = {}
    within: dict[str, float] = {}
    for frame, innermost_ours, callers in _walk(root, None, frozenset()):
        label = _label(frame)
        spent = frame.total_self_time
        self_time[label] = self_time.get(label, 0.0) + spent
        owner = innermost_ours or f"not in our code: {label}"
        charged[owner] = charged.get(owner, 0.0) + spent
        # A recursive call's time is already inside its outermost call: count that one only.
        if _is_ours(frame) and label not in callers:
            within[label] = within.get(label, 0.0) + frame.time
    below_entry = {k: v for k, v in within.items() if v / total < ENTRY_POINT_SHARE}
    return ProfileReport(
        total_seconds=total,
        by_self_time=_top(self_time, total, top),
        by_our_function=_top(charged, total, top),
        inclusive=_top(below_entry, total, top) if inclusive else [],
    )


def _walk(
    frame: Frame, innermost_ours: str | None, callers: frozenset[str]
) -> Iterator[tuple[Frame, str | None, frozenset[str]]]:
    """Every real frame, the deepest project frame at or above it, and the labels above it."""
    if frame.is_synthetic:
        return
    label = _label(frame)
    if _is_ours(frame):
        innermost_ours = label
    yield frame, innermost_ours, callers
    below = callers | {label}
    for child in frame.children:
        yield from _walk(child, innermost_ours, below)


def _top(times: dict[str, float], total: float, top: int) -> list[FrameTime]:
    ranked = sorted(times.items(), key=lambda item: item[1], reverse=True)[:top]
    return [FrameTime(label, seconds, seconds / total) for label, seconds in ranked if seconds > 0]


def _is_ours(frame: Frame) -> bool:
    path = frame.file_path or ""
    return any(package in path for package in OUR_PACKAGES)


def _label(frame: Frame) -> str:
    return f"{frame.function} ({_short(frame.file_path)}:{frame.line_no or 0})"


def _short(path: str | None) -> str:
    if not path:
        return "?"
    for marker in ("/site-packages/", "/src/"):
        if marker in path:
            return path.split(marker, 1)[1]
    root = f"{REPO_ROOT}/"
    if path.startswith(root):
        return path[len(root) :]
    return path.rsplit("/", 1)[-1]
