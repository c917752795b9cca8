"""Row: full-pipeline replay, bars per second through the orchestrator's runner.

Our side is ``trading_core.orchestrator.runner.run`` exactly as ``trading-core run`` calls it:
the moving-average agent (SMA 10/30, long only, enter on a golden cross, exit on a death cross,
a signal at bar t traded at the open of t+1) over the real ETH/BTC file, with embedded SQLite in a
fresh temporary directory and the in-memory bus. Every run starts from a fresh database.

The baseline is backtesting.py running the same strategy on the same bars: SMA(10)/SMA(30) cross,
long only, orders filled at the next open, with the run's own settings: commission and spread
(10 and 5 bps by default; backtesting.py has no slippage, ours adds 2 bps), order fraction (2 % of
equity), starting cash; fractional units of 1e-8 (our lot size). Each of its samples includes
reading the same file, as ours does.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from backtesting import Strategy  # type: ignore[import-untyped]
from backtesting.lib import FractionalBacktest, crossover  # type: ignore[import-untyped]

from benchmarks.environment import CONFIG_DIR, REPLAY_FILE, versions
from benchmarks.harness import Measurement, Progress, RowResult, Summary, is_poor
from benchmarks.profiling import profile_sync
from trading_core.adapters.bus_memory import MEMORY_URL
from trading_core.instruments import InstrumentRegistry
from trading_core.marketdata.loaders import parse_file_name
from trading_core.orchestrator.runner import run as run_pipeline
from trading_core.orchestrator.summary import RunSummary
from trading_core.settings import Settings, load_settings

KEY = "replay"
TITLE = "full-pipeline replay (one moving-average agent)"
N = 5
WARMUP = 1
FAST, SLOW = 10, 30
LOT = 1e-8


def run(progress: Progress) -> RowResult:
    row = RowResult(
        key=KEY,
        path=TITLE,
        sample="run",
        kind="throughput",
        unit="bars/s",
        versions=versions(
            "trading-core", "trading-agents", "pydantic", "aiosqlite", "backtesting", "pandas"
        ),
    )
    ours_s: list[float] = []
    base_s: list[float] = []
    summary: RunSummary | None = None
    trades = 0
    probe = _settings(Path(tempfile.gettempdir()))
    strategy = _strategy_for(probe)
    for round_ in range(WARMUP + N):
        label = "warm-up" if round_ < WARMUP else f"{round_ - WARMUP + 1}/{N}"
        gc.collect()
        started = time.perf_counter()
        summary = _ours_once()
        ours_elapsed = time.perf_counter() - started
        gc.collect()
        started = time.perf_counter()
        trades = _baseline_once(probe, strategy)
        base_elapsed = time.perf_counter() - started
        progress(f"round {label}: ours {ours_elapsed:.2f} s, backtesting.py {base_elapsed:.2f} s")
        if round_ >= WARMUP:
            ours_s.append(ours_elapsed)
            base_s.append(base_elapsed)
    assert summary is not None
    bars = summary.bars
    row.ours = Measurement(
        "runner.run(settings): replay, SQLite, in-memory bus", Summary.of(ours_s), bars, WARMUP
    )
    row.baseline = Measurement(
        "backtesting.py FractionalBacktest.run()", Summary.of(base_s), bars, WARMUP
    )
    entries = summary.decisions.get("entry", 0)
    row.diagnostics.update(
        {"our_entries": entries, "our_fills": summary.fills, "backtesting_trades": trades}
    )
    row.notes.append(
        f"Same strategy, same {bars:,} bars: ours entered {entries} times ({summary.fills} fills), "
        f"backtesting.py made {trades} round trips. Ours also sizes and risk-checks every "
        f"order, keeps Decimal books, writes every decision, order, fill and bar to SQLite, "
        f"updates 14 incremental indicators and publishes quotes and signals to the bus; "
        f"backtesting.py computes its two SMAs vectorised up front and keeps its books in "
        f"floats in memory. Each sample is one whole run (n is small: a run takes seconds)."
    )
    row.notes.append(
        "With the in-memory bus the only awaited I/O is SQLite (aiosqlite runs it on a worker "
        "thread), so the event loop's epoll.poll time in the profile is time spent waiting on "
        "SQLite writes and reads."
    )
    if is_poor(row.ratio):
        progress("profiling one more run of our side")
        row.profile = profile_sync(_ours_once, inclusive=True).lines()
    return row


def _ours_once() -> RunSummary:
    directory = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    try:
        return asyncio.run(run_pipeline(_settings(directory)))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _settings(directory: Path) -> Settings:
    return load_settings(
        config_dir=CONFIG_DIR,
        data_dir=directory,
        db_url=f"sqlite:///{directory / 'bench.db'}",
        redis_url=MEMORY_URL,
        source="replay",
        data=[REPLAY_FILE],
    )


def _strategy_for(settings: Settings) -> type[Strategy]:
    """The backtesting.py strategy with the agent's periods and the run's order size."""
    if settings.agent.name != "ma_cross":
        raise ValueError(f"the baseline mirrors the ma_cross agent, not {settings.agent.name!r}")
    parameters = settings.agent.parameters
    fast, slow = int(parameters.get("fast", FAST)), int(parameters.get("slow", SLOW))
    size = float(settings.agent.order_fraction)
    return type("SmaCross", (SmaCross,), {"fast_n": fast, "slow_n": slow, "size": size})


def _baseline_once(settings: Settings, strategy: type[Strategy]) -> int:
    frame = pd.read_feather(REPLAY_FILE)
    data = pd.DataFrame(
        {
            "Open": frame["open"].to_numpy(dtype=np.float64),
            "High": frame["high"].to_numpy(dtype=np.float64),
            "Low": frame["low"].to_numpy(dtype=np.float64),
            "Close": frame["close"].to_numpy(dtype=np.float64),
            "Volume": frame["volume"].to_numpy(dtype=np.float64),
        },
        index=pd.DatetimeIndex(frame["date"]),
    )
    with warnings.catch_warnings():
        # backtesting.py 0.6.6 uses pandas APIs that pandas 3 deprecates; not our concern here.
        warnings.simplefilter("ignore")
        backtest = FractionalBacktest(
            data,
            strategy,
            cash=float(settings.initial_cash[_currency(settings)]),
            commission=float(settings.paper.commission_bps) / 10_000,
            spread=float(settings.paper.spread_bps) / 10_000,
            fractional_unit=LOT,
            finalize_trades=True,
        )
        stats: Any = backtest.run()
    gc.collect()
    return int(stats["# Trades"])


def _currency(settings: Settings) -> str:
    """The replayed instrument's quote currency: the account the run starts with."""
    symbol = parse_file_name(REPLAY_FILE).symbol
    return InstrumentRegistry.from_file(settings.symbols_file).get(symbol).currency


def _sma(values: Sequence[float], n: int) -> np.ndarray:
    return pd.Series(np.asarray(values, dtype=np.float64)).rolling(n).mean().to_numpy()


class SmaCross(Strategy):  # type: ignore[misc]
    """Long only: buy ``size`` of equity on a golden cross, close on a death cross."""

    fast_n = FAST
    slow_n = SLOW
    size = 0.02

    def init(self) -> None:
        self.fast = self.I(_sma, self.data.Close, self.fast_n)
        self.slow = self.I(_sma, self.data.Close, self.slow_n)

    def next(self) -> None:
        if not self.position and crossover(self.fast, self.slow):
            self.buy(size=self.size)
        elif self.position and crossover(self.slow, self.fast):
            self.position.close()
