"""The shared timing harness: sample statistics, ratios, and interleaved timers.

Everything here is plain Python (no numpy) so the maths can be unit-tested on made-up timings.
Conventions used by every row:

- a *sample* is one timed piece of work (one check, one batch of rows, one whole replay);
  samples are timed individually with ``time.perf_counter_ns`` and warm-up samples are discarded;
- our side and the baseline are interleaved sample by sample, so drift on a noisy machine (another
  process, CPU frequency) lands on both sides of the ratio alike;
- an *outlier* is a sample above ``p50 + 3 * IQR``: counted and reported, never dropped;
- the *ratio* is our cost over the baseline's cost at the median, per unit of work: 1.0 means at
  the floor, 3.0 means three times the baseline's time (for throughputs: a third of its rate).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

OUTLIER_IQR_FACTOR = 3.0
POOR_RATIO = 2.0
"""A ratio at or above this gets a profile of our side in the report."""

Status = Literal["measured", "skipped", "failed", "not measured yet"]
Kind = Literal["latency", "throughput"]
Progress = Callable[[str], None]


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between closest ranks (numpy's default method)."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within [0, 100], got {q}")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    below = math.floor(rank)
    above = min(below + 1, len(ordered) - 1)
    weight = rank - below
    return ordered[below] + (ordered[above] - ordered[below]) * weight


def outlier_threshold(samples: Sequence[float], factor: float = OUTLIER_IQR_FACTOR) -> float:
    """Samples above ``p50 + factor * IQR`` count as outliers."""
    iqr = percentile(samples, 75) - percentile(samples, 25)
    return percentile(samples, 50) + factor * iqr


def count_outliers(samples: Sequence[float], factor: float = OUTLIER_IQR_FACTOR) -> int:
    """How many samples lie above :func:`outlier_threshold` (slow ones: the fast tail is fine)."""
    threshold = outlier_threshold(samples, factor)
    return sum(1 for sample in samples if sample > threshold)


@dataclass(frozen=True)
class Summary:
    """Statistics of one side's samples, in seconds per sample."""

    n: int
    p50: float
    p99: float
    mean: float
    minimum: float
    maximum: float
    iqr: float
    outlier_threshold: float
    outliers: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        if not samples:
            raise ValueError("cannot summarise no samples")
        return cls(
            n=len(samples),
            p50=percentile(samples, 50),
            p99=percentile(samples, 99),
            mean=math.fsum(samples) / len(samples),
            minimum=min(samples),
            maximum=max(samples),
            iqr=percentile(samples, 75) - percentile(samples, 25),
            outlier_threshold=outlier_threshold(samples),
            outliers=count_outliers(samples),
        )


def seconds(samples_ns: Sequence[int]) -> list[float]:
    return [sample / 1e9 for sample in samples_ns]


@dataclass(frozen=True)
class Measurement:
    """One side of a row: what was timed and how its samples came out."""

    label: str
    summary: Summary
    units_per_sample: int
    warmup: int

    @classmethod
    def from_ns(
        cls, label: str, samples_ns: Sequence[int], units_per_sample: int, warmup: int
    ) -> Measurement:
        return cls(label, Summary.of(seconds(samples_ns)), units_per_sample, warmup)

    @property
    def seconds_per_unit(self) -> float:
        """Median cost of one unit of work (one check, one decision, one bar)."""
        return self.summary.p50 / self.units_per_sample

    @property
    def units_per_second(self) -> float:
        """Throughput at the median sample."""
        return throughput(self.units_per_sample, self.summary.p50)


def throughput(units: int, elapsed_seconds: float) -> float:
    """Units per second; infinite when nothing measurable elapsed."""
    if elapsed_seconds < 0:
        raise ValueError("elapsed time cannot be negative")
    return math.inf if elapsed_seconds == 0 else units / elapsed_seconds


def cost_ratio(ours: Measurement, baseline: Measurement) -> float:
    """Our median cost per unit over the baseline's (1.0 = at the floor, higher is slower)."""
    if baseline.seconds_per_unit == 0:
        return math.inf
    return ours.seconds_per_unit / baseline.seconds_per_unit


def is_poor(ratio: float | None) -> bool:
    return ratio is not None and ratio >= POOR_RATIO


@dataclass
class RowResult:
    """One line of BENCHMARKS.md (and one object in results.json)."""

    key: str
    path: str
    kind: Kind
    unit: str
    sample: str = "call"
    """What one sample is (call, batch, pass, run): the noun in the report's n column."""
    status: Status = "measured"
    reason: str = ""
    ours: Measurement | None = None
    baseline: Measurement | None = None
    versions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.baseline is None:
            return None
        return cost_ratio(self.ours, self.baseline)


# ---- timers --------------------------------------------------------------------------------------


def time_interleaved(
    ours: Callable[[], object],
    baseline: Callable[[], object],
    *,
    n: int,
    warmup: int,
) -> tuple[list[int], list[int]]:
    """Nanoseconds of each call, ours then the baseline, ``n`` times after ``warmup`` rounds."""
    clock = time.perf_counter_ns
    for _ in range(warmup):
        ours()
        baseline()
    ours_ns: list[int] = []
    baseline_ns: list[int] = []
    for _ in range(n):
        start = clock()
        ours()
        middle = clock()
        baseline()
        end = clock()
        ours_ns.append(middle - start)
        baseline_ns.append(end - middle)
    return ours_ns, baseline_ns


async def time_round_robin_async(
    works: Sequence[Callable[[int], Awaitable[object]]],
    *,
    n: int,
    warmup: int,
) -> list[list[int]]:
    """Nanoseconds of each awaited call, the ``works`` taking turns, ``n`` rounds after ``warmup``.

    Every call gets its round number (warm-up rounds first, from 0), so round ``i`` can pick the
    ``i``-th batch of input; the result holds one list of ``n`` samples per work, in order.
    """
    clock = time.perf_counter_ns
    samples: list[list[int]] = [[] for _ in works]
    for round_ in range(warmup + n):
        for work, collected in zip(works, samples, strict=True):
            start = clock()
            await work(round_)
            elapsed = clock() - start
            if round_ >= warmup:
                collected.append(elapsed)
    return samples


def timer_overhead_ns(rounds: int = 10_000) -> float:
    """Median cost of reading ``perf_counter_ns`` twice (included in every per-call sample)."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(rounds):
        start = clock()
        samples.append(clock() - start)
    return percentile(samples, 50)


def share_of_gap(ours: float, floor: float, intermediate: float) -> float | None:
    """Which fraction of the gap ``ours - floor`` an intermediate cost already accounts for.

    All three are costs per unit of work. A diagnostic that does part of our work (say, the same
    round trips without our code) lands between the floor and us; clipped to [0, 1], and None
    when we are at or below the floor (no gap to explain).
    """
    gap = ours - floor
    if gap <= 0:
        return None
    return min(1.0, max(0.0, (intermediate - floor) / gap))
