"""Row: parameter sweep (`trading-core backtest --grid`), bars per second over the whole grid.

Our side is :func:`trading_core.reporting.grid.run_grid` exactly as the command runs it: four
points of the moving-average agent's grid (fast 5/10 x slow 30/50) over the real ETH/BTC file,
each a whole backtest (guardrails, breakers, audit, its report) in a process of its own, one
process per core. The baseline is the same four backtests one after another in this process
(:func:`~trading_core.reporting.backtest.run_backtest`): what the sweep buys is the cores, so a
ratio under 1 is the speed-up (on 2 cores at most 0.5 plus the processes' start-up).
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.environment import CONFIG_DIR, REPLAY_FILE, versions
from benchmarks.harness import Measurement, Progress, RowResult, Summary
from trading_core.adapters.bus_memory import MEMORY_URL
from trading_core.reporting.backtest import run_backtest
from trading_core.reporting.grid import GridPoint, grid_points, parse_grid, run_grid
from trading_core.settings import Settings, load_settings

KEY = "sweep"
TITLE = "parameter sweep (`backtest --grid`, 4 points on every core)"
N = 3
WARMUP = 0
GRID = ["fast=5,10", "slow=30,50"]


def run(progress: Progress) -> RowResult:
    row = RowResult(
        key=KEY,
        path=TITLE,
        sample="sweep",
        kind="throughput",
        unit="bars/s",
        versions=versions("trading-core", "trading-agents", "pydantic", "aiosqlite"),
    )
    probe = _settings(Path(tempfile.gettempdir()))
    points = grid_points(probe.agent, parse_grid(GRID))
    ours_s: list[float] = []
    base_s: list[float] = []
    bars = 0
    for round_ in range(N):
        gc.collect()
        started = time.perf_counter()
        bars = _ours_once(points)
        ours_elapsed = time.perf_counter() - started
        gc.collect()
        started = time.perf_counter()
        base_bars = _baseline_once(points)
        base_elapsed = time.perf_counter() - started
        if base_bars != bars:
            raise AssertionError(f"the two sides replayed {bars} and {base_bars} bars")
        progress(
            f"round {round_ + 1}/{N}: sweep {ours_elapsed:.2f} s, "
            f"one after another {base_elapsed:.2f} s"
        )
        ours_s.append(ours_elapsed)
        base_s.append(base_elapsed)
    cores = os.cpu_count() or 1
    row.ours = Measurement(
        f"run_grid(4 points, {cores} processes)", Summary.of(ours_s), bars, WARMUP
    )
    row.baseline = Measurement(
        "run_backtest x 4, one after another in one process", Summary.of(base_s), bars, WARMUP
    )
    row.notes.append(
        f"{len(points)} points x 5,760 bars ({bars:,} bars a sample). Both sides run every "
        "guardrail, breaker and audit write and write each point's full report (metrics.json, "
        "trades.csv, equity.png, report.html); the sweep also starts one process per core "
        "(spawn) and writes comparison.csv and comparison.html. Under 1.00x is the speed-up "
        f"from the {cores} cores."
    )
    return row


def _ours_once(points: list[GridPoint]) -> int:
    directory = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        result = run_grid(_settings(directory), points, report_dir=directory / "report")
        failed = [o.error for o in result.outcomes if o.error]
        if failed:
            raise AssertionError(f"sweep points failed: {failed}")
        return result.bars
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _baseline_once(points: list[GridPoint]) -> int:
    directory = Path(tempfile.mkdtemp(prefix="bench-sweep-base-"))
    try:
        bars = 0
        for point in points:
            run_dir = directory / f"{point.number:03d}"
            own = _settings(run_dir).model_copy(update={"agent": point.agent})
            result = asyncio.run(run_backtest(own, report_dir=run_dir / "report"))
            bars += result.summary.bars
        return bars
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _settings(directory: Path) -> Settings:
    return load_settings(
        config_dir=CONFIG_DIR,
        data_dir=directory,
        redis_url=MEMORY_URL,
        source="replay",
        data=[REPLAY_FILE],
        agent={"name": "ma_cross"},
    )
