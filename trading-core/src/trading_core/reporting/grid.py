"""A parameter sweep: the same backtest over every combination of a grid, on every core.

Each combination is a whole :func:`~trading_core.reporting.backtest.run_backtest` (the live
orchestrator, guardrails and audit on) in a process of its own, with its own SQLite database and
report under ``<report>/runs/<n>/``. The comparison of all of them is ``comparison.csv`` and
``comparison.html`` in ``<report>``, ranked by one metric.

Grid keys name agent parameters (``fast=5,10``), a committee member's (``trend_hunter.adx_period
=14,20``) or the agent section's own numbers (``entry_threshold``, ``exit_threshold``,
``order_fraction``).
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import itertools
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from trading_core.domain.errors import ConfigurationError, TradingError
from trading_core.orchestrator.agent_setup import build_agent
from trading_core.reporting.report import METRICS, format_metric
from trading_core.reporting.writer import check_report_dir
from trading_core.settings import AgentSettings, Settings

SECTION_KEYS: Final = frozenset({"entry_threshold", "exit_threshold", "order_fraction"})
RANKABLE: Final = (*(name for name, _, kind in METRICS if kind != "count"), "trade_count")
COMPARISON_CSV: Final = "comparison.csv"
COMPARISON_HTML: Final = "comparison.html"
_WORKER_MODULES: Final = (
    "trading_core.reporting.backtest",
    "trading_core.reporting.chart",
    "matplotlib.pyplot",
    "trading_agents.registry",
)
"""What every point needs, imported once in the fork server instead of once per worker."""
ParameterValue = int | float | str


@dataclass(frozen=True, slots=True)
class GridPoint:
    """One combination: its number, the grid values, and the agent section it runs with."""

    number: int
    values: dict[str, ParameterValue]
    agent: AgentSettings


@dataclass(frozen=True, slots=True)
class GridOutcome:
    """One finished combination: its metrics (None if it failed, with the reason)."""

    point: GridPoint
    metrics: dict[str, Any] | None
    bars: int
    seconds: float
    error: str = ""


@dataclass(frozen=True, slots=True)
class GridResult:
    outcomes: list[GridOutcome]
    """Ranked: best first by the chosen metric; failed and undefined ones last."""
    rank_by: str
    seconds: float
    csv_path: Path
    html_path: Path

    @property
    def bars(self) -> int:
        return sum(outcome.bars for outcome in self.outcomes)

    @property
    def bars_per_second(self) -> float:
        return self.bars / self.seconds if self.seconds > 0 else 0.0


def parse_grid(specs: Sequence[str]) -> dict[str, list[ParameterValue]]:
    """``["fast=5,10", "slow=30"]`` -> ``{"fast": [5, 10], "slow": [30]}``; refuses bad specs."""
    grid: dict[str, list[ParameterValue]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        items = [value.strip() for value in values.split(",") if value.strip()]
        if not sep or not name or not items:
            raise ConfigurationError(f"--grid {spec!r}: write NAME=V1,V2,... (e.g. fast=5,10,20)")
        if name in grid:
            raise ConfigurationError(f"--grid names {name!r} twice: give all its values in one")
        grid[name] = [_number(item) for item in items]
    if not grid:
        raise ConfigurationError("--grid needs at least one NAME=V1,V2,...")
    return grid


def grid_points(
    base: AgentSettings, grid: Mapping[str, Sequence[ParameterValue]]
) -> list[GridPoint]:
    """Every combination of ``grid`` applied to ``base``, each checked by building its agent.

    A parameter the agent does not take, or a value it refuses, is a ConfigurationError here,
    before any run starts.
    """
    names = list(grid)
    points: list[GridPoint] = []
    for number, combination in enumerate(itertools.product(*(grid[n] for n in names)), start=1):
        values = dict(zip(names, combination, strict=True))
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        try:
            agent = _applied(base, values)
            build_agent(agent)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigurationError(f"grid point {shown}: {problems}") from None
        except TradingError as exc:
            raise ConfigurationError(f"grid point {shown}: {exc.message}") from None
        points.append(GridPoint(number, values, agent))
    return points


def run_grid(
    settings: Settings,
    points: Sequence[GridPoint],
    *,
    report_dir: Path,
    rank_by: str = "sharpe",
    start: datetime | None = None,
    end: datetime | None = None,
    jobs: int | None = None,
    on_done: Callable[[GridOutcome, int, int], None] | None = None,
) -> GridResult:
    """Run every point (``jobs`` processes, default one per core) and write the comparison."""
    if rank_by not in RANKABLE:
        raise ConfigurationError(f"--rank {rank_by!r}: one of {', '.join(RANKABLE)}")
    check_report_dir(report_dir)
    workers = max(1, min(jobs or os.cpu_count() or 1, len(points)))
    began = time.perf_counter()
    outcomes: list[GridOutcome] = []
    context = _worker_context()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: dict[Future[GridOutcome], GridPoint] = {
            pool.submit(_run_point, settings, point, report_dir, start, end): point
            for point in points
        }
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    point = pending.pop(future)
                    outcome = _outcome_of(future, point)
                    outcomes.append(outcome)
                    if on_done is not None:
                        on_done(outcome, len(outcomes), len(points))
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    ranked = rank(outcomes, rank_by)
    seconds = time.perf_counter() - began
    csv_path, html_path = report_dir / COMPARISON_CSV, report_dir / COMPARISON_HTML
    report_dir.mkdir(parents=True, exist_ok=True)
    csv_path.write_text(comparison_csv(ranked), encoding="utf-8", newline="")
    html_path.write_text(
        comparison_html(ranked, rank_by=rank_by, seconds=seconds), encoding="utf-8"
    )
    return GridResult(ranked, rank_by, seconds, csv_path, html_path)


def _worker_context() -> multiprocessing.context.BaseContext:
    """How the workers start: forked from this process while it runs no other thread (they
    start at once, with everything imported; a fork copies only the calling thread, so with
    others running it could copy a lock one of them held), else from a fork server that
    imports what a point needs once (about twice the start-up here, measured)."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(_WORKER_MODULES))
    return context


def rank(outcomes: Sequence[GridOutcome], rank_by: str) -> list[GridOutcome]:
    """Best first by ``rank_by`` (higher is better for every metric, max_drawdown included:
    it is negative); ties by grid order; failed or undefined values last."""

    def key(outcome: GridOutcome) -> tuple[int, float, int]:
        value = None if outcome.metrics is None else outcome.metrics.get(rank_by)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return (1, 0.0, outcome.point.number)
        return (0, -float(value), outcome.point.number)

    return sorted(outcomes, key=key)


def comparison_csv(outcomes: Sequence[GridOutcome]) -> str:
    """One row per point, ranked: rank, the grid values, every metric (raw numbers), bars."""
    names = _value_names(outcomes)
    metric_names = [name for name, _, _ in METRICS]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["rank", "point", *names, *metric_names, "bars", "seconds", "error"])
    for position, outcome in enumerate(outcomes, start=1):
        metrics = outcome.metrics or {}
        writer.writerow(
            [
                position,
                outcome.point.number,
                *(outcome.point.values.get(name, "") for name in names),
                *("" if metrics.get(name) is None else metrics[name] for name in metric_names),
                outcome.bars,
                f"{outcome.seconds:.3f}",
                outcome.error,
            ]
        )
    return out.getvalue()


def comparison_html(outcomes: Sequence[GridOutcome], *, rank_by: str, seconds: float) -> str:
    """A self-contained page: the ranked table, the ranking metric's column marked."""
    names = _value_names(outcomes)
    heads = [*names, *(label for _, label, _ in METRICS), "bars"]
    rows = []
    for position, outcome in enumerate(outcomes, start=1):
        metrics = outcome.metrics or {}
        cells = [str(outcome.point.values.get(name, "")) for name in names]
        for name, _, kind in METRICS:
            shown = format_metric(metrics.get(name), kind) if outcome.metrics else "failed"
            mark = ' class="rank"' if name == rank_by else ""
            cells.append(f"<td{mark}>{html.escape(shown)}</td>")
        value_cells = "".join(f"<td>{html.escape(c)}</td>" for c in cells[: len(names)])
        metric_cells = "".join(cells[len(names) :])
        error = f' title="{html.escape(outcome.error)}"' if outcome.error else ""
        rows.append(
            f"<tr{error}><td>{position}</td>{value_cells}{metric_cells}<td>{outcome.bars}</td></tr>"
        )
    bars = sum(o.bars for o in outcomes)
    rate = bars / seconds if seconds > 0 else 0.0
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8"><title>Parameter sweep</title>',
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
            ".rank{font-weight:bold;background:#eef}</style></head><body>",
            f"<h1>Parameter sweep: {len(outcomes)} runs ranked by {html.escape(rank_by)}</h1>",
            f"<p>{bars:,} bars in {seconds:.1f} s ({rate:,.0f} bars/s, every guardrail on). "
            "Each run's full report is in runs/&lt;point&gt;/.</p>",
            f'<table id="comparison"><thead><tr><th>rank</th>{head}</tr></thead><tbody>',
            *rows,
            "</tbody></table></body></html>",
        ]
    )


def _run_point(
    settings: Settings,
    point: GridPoint,
    report_dir: Path,
    start: datetime | None,
    end: datetime | None,
) -> GridOutcome:
    """In a worker process: one whole backtest on a database and report of its own."""
    from trading_core.reporting.backtest import run_backtest

    run_dir = report_dir / "runs" / f"{point.number:03d}"
    own = settings.model_copy(update={"agent": point.agent, "data_dir": run_dir, "db_url": None})
    began = time.perf_counter()
    try:
        result = asyncio.run(run_backtest(own, report_dir=run_dir, start=start, end=end))
    except TradingError as exc:
        return GridOutcome(
            point, None, 0, time.perf_counter() - began, f"{exc.code}: {exc.message}"
        )
    return GridOutcome(
        point,
        result.report.metrics.model_dump(mode="json"),
        result.summary.bars,
        time.perf_counter() - began,
    )


def _outcome_of(future: Future[GridOutcome], point: GridPoint) -> GridOutcome:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a crashed worker is one failed row, not the sweep
        return GridOutcome(point, None, 0, 0.0, f"{type(exc).__name__}: {exc}")


def _applied(base: AgentSettings, values: Mapping[str, ParameterValue]) -> AgentSettings:
    update: dict[str, Any] = {}
    parameters = dict(base.parameters)
    members = {name: dict(p) for name, p in base.member_parameters.items()}
    for name, value in values.items():
        if name in SECTION_KEYS:
            update[name] = Decimal(str(value)) if name == "order_fraction" else float(value)
        elif "." in name:
            member, _, parameter = name.partition(".")
            if member not in base.committee:
                raise ConfigurationError(
                    f"--grid {name}: {member!r} is not in the committee "
                    f"({', '.join(base.committee) or 'no committee'})"
                )
            members.setdefault(member, {})[parameter] = value
        else:
            parameters[name] = value
    update["parameters"] = parameters
    update["member_parameters"] = members
    # Validated like configuration: a value out of range is refused, not run.
    return AgentSettings.model_validate({**base.model_dump(), **update})


def _value_names(outcomes: Sequence[GridOutcome]) -> list[str]:
    return list(outcomes[0].point.values) if outcomes else []


def _number(text: str) -> ParameterValue:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    return float(value) if value.is_finite() else text
