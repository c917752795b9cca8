"""Row: indicators over history, bars per second of ``compute_indicators`` on the real file.

The baseline is the same formulas in plain numpy (``numpy_indicators``); before anything is timed
the two must agree on every indicator (same warm-up NaNs, values within 1e-9 relative).
"""

from __future__ import annotations

import gc

import numpy as np

from benchmarks import inputs
from benchmarks.environment import REPLAY_FILE, versions
from benchmarks.harness import (
    Measurement,
    Progress,
    RowResult,
    is_poor,
    time_interleaved,
)
from benchmarks.numpy_indicators import FloatArray, indicators_numpy
from benchmarks.profiling import profile_sync
from trading_core.marketdata.indicators import INDICATOR_NAMES, compute_indicators

KEY = "indicators"
TITLE = "indicators over history"
N = 200
WARMUP = 10
PROFILE_CALLS = 200
RELATIVE_TOLERANCE = 1e-9


def run(progress: Progress) -> RowResult:
    row = RowResult(
        key=KEY,
        path=TITLE,
        sample="pass",
        kind="throughput",
        unit="bars/s",
        versions=versions("trading-core", "numpy", "pandas"),
    )
    high, low, close = inputs.price_columns()
    bars = len(close)
    progress(f"checking that both sides agree on all {len(INDICATOR_NAMES)} indicators")
    assert_same(compute_indicators(high, low, close), indicators_numpy(high, low, close))

    def ours() -> object:
        return compute_indicators(high, low, close)

    def baseline() -> object:
        return indicators_numpy(high, low, close)

    progress(f"{WARMUP} warm-up + {N} passes over {bars} bars per side, interleaved")
    gc.collect()
    ours_ns, base_ns = time_interleaved(ours, baseline, n=N, warmup=WARMUP)
    row.ours = Measurement.from_ns("compute_indicators(high, low, close)", ours_ns, bars, WARMUP)
    row.baseline = Measurement.from_ns("the same formulas in plain numpy", base_ns, bars, WARMUP)
    row.notes.append(
        f"All {len(INDICATOR_NAMES)} indicators over {REPLAY_FILE.name} ({bars} bars) per "
        "sample, float64 arrays already in memory; outputs checked equal before timing."
    )
    if is_poor(row.ratio):
        progress("profiling our side")
        row.profile = profile_sync(lambda: [ours() for _ in range(PROFILE_CALLS)]).lines()
    return row


def assert_same(ours: dict[str, FloatArray], floor: dict[str, FloatArray]) -> None:
    """Raise AssertionError naming the first indicator on which the two sides differ."""
    if set(ours) != set(floor):
        raise AssertionError(f"different indicators: {sorted(set(ours) ^ set(floor))}")
    for name, expected in ours.items():
        actual = floor[name]
        if not np.array_equal(np.isnan(expected), np.isnan(actual)):
            raise AssertionError(f"{name}: warm-up (NaN) positions differ")
        defined = ~np.isnan(expected)
        scale = float(np.max(np.abs(expected[defined]), initial=0.0))
        atol = RELATIVE_TOLERANCE * scale
        if not np.allclose(actual[defined], expected[defined], rtol=RELATIVE_TOLERANCE, atol=atol):
            worst = float(np.max(np.abs(actual[defined] - expected[defined])))
            raise AssertionError(f"{name}: numpy baseline differs by up to {worst:g}")
