"""A backtest: `trading-core run`'s orchestrator over replayed files, then the report.

There is no second code path: the run is :func:`trading_core.orchestrator.runner.run` (same
pipeline, broker, guardrails, breakers and audit rows) with a date window and an observer that
keeps the bars and fills the report is built from. Orders and fills in the store are not keyed by
run, so the report uses what this run saw rather than querying the store.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from trading_core.domain.errors import DataError
from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar, Timeframe
from trading_core.domain.precision import format_money
from trading_core.instruments import InstrumentRegistry
from trading_core.orchestrator.runner import ProgressCallback, run
from trading_core.orchestrator.summary import RunSummary
from trading_core.reporting.report import BacktestReport, build_report
from trading_core.reporting.writer import ReportFiles, check_report_dir, write_report
from trading_core.settings import Settings, refuse_live_mode


@dataclass(slots=True)
class BacktestRecorder:
    """A :class:`~trading_core.orchestrator.runner.RunObserver` keeping bars and fills in memory."""

    bars: dict[str, list[Bar]] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)

    def on_bar(self, bar: Bar) -> None:
        self.bars.setdefault(bar.symbol, []).append(bar)

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    @property
    def timeframe(self) -> Timeframe | None:
        """The timeframe of the bars seen (a replay has one), None before the first bar."""
        for series in self.bars.values():
            return series[0].timeframe
        return None


@dataclass(frozen=True, slots=True)
class BacktestResult:
    summary: RunSummary
    report: BacktestReport
    files: ReportFiles


async def run_backtest(
    settings: Settings,
    *,
    report_dir: Path,
    start: datetime | None = None,
    end: datetime | None = None,
    stop: asyncio.Event | None = None,
    progress: ProgressCallback | None = None,
) -> BacktestResult:
    """Replay ``settings.data`` from ``start`` (inclusive) to ``end`` (exclusive) through the
    orchestrator and write the report into ``report_dir``.

    Bad input (files, symbols, window, report directory, settings) raises a ``TradingError``
    before anything is written. A run stopped early still gets its report, marked as such.
    """
    refuse_live_mode(settings)  # a backtest trades a replay's own paper book, never live
    check_report_dir(report_dir)
    recorder = BacktestRecorder()
    summary = await run(
        settings, stop=stop, progress=progress, start=start, end=end, observer=recorder
    )
    timeframe = recorder.timeframe
    if timeframe is None:
        raise DataError(f"run {summary.run_id} replayed no bars: there is nothing to report")
    report = build_report(
        recorder.fills,
        recorder.bars,
        initial_cash=summary.starting_equity,
        currency=summary.currency,
        timeframe=timeframe,
        title=f"Backtest of {agent_label(settings)} on {', '.join(summary.symbols)}",
        parameters=backtest_parameters(settings, start=start, end=end, timeframe=timeframe),
        outcome=run_outcome(summary, recorder.bars),
    )
    instruments = InstrumentRegistry.from_file(settings.symbols_file)

    def tick_of(symbol: str) -> Decimal | None:
        return instruments.get(symbol).tick_size if symbol in instruments else None

    return BacktestResult(summary, report, write_report(report, report_dir, tick_of=tick_of))


def backtest_parameters(
    settings: Settings, *, start: datetime | None, end: datetime | None, timeframe: Timeframe
) -> dict[str, str]:
    """The inputs that decide a backtest's result, as people read them."""
    paper = settings.paper
    agent = settings.agent
    if agent.committee:
        parameters = {"weights": agent.weights, "members": agent.member_parameters}
    else:
        parameters = dict(agent.parameters)
    parameters_shown = {
        "agent": agent_label(settings),
        "agent parameters": json.dumps(parameters, sort_keys=True) if parameters else "none",
        "order fraction of equity": f"{agent.order_fraction}",
        "data files": ", ".join(str(path) for path in settings.data),
        "symbols": ", ".join(settings.symbols) if settings.symbols else "all in the data",
        "from (inclusive)": start.isoformat() if start is not None else "start of the data",
        "to (exclusive)": end.isoformat() if end is not None else "end of the data",
        "timeframe": timeframe.value,
        "execution": "signal at a bar's close, order at the next bar's open",
        "spread (bps)": f"{paper.spread_bps}",
        "slippage (bps)": f"{paper.slippage_bps}",
        "commission (bps)": f"{paper.commission_bps}",
        "max participation of bar volume": f"{paper.max_participation}",
        "seed": str(settings.seed),
        "guardrails": "pre-trade risk limits and circuit breakers active (risk_limits.toml)",
    }
    sentiment = settings.sentiment
    if sentiment.headlines is not None:
        scorer = f"model {sentiment.model_path}" if sentiment.model_path else "lexicon"
        parameters_shown["headlines"] = (
            f"{sentiment.headlines} (scored by the {scorer}; each counts for "
            f"{sentiment.window_hours:g} h after it is published)"
        )
    return parameters_shown


def agent_label(settings: Settings) -> str:
    """The agent by name, or the committee's members."""
    agent = settings.agent
    return f"committee of {', '.join(agent.committee)}" if agent.committee else agent.name


def run_outcome(summary: RunSummary, bars: dict[str, list[Bar]]) -> dict[str, str]:
    """What the run did, from its closing summary."""
    first = min((series[0].timestamp for series in bars.values() if series), default=None)
    last = max((series[-1].close_time for series in bars.values() if series), default=None)
    span = f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC" if first and last else "none"
    pct = summary.pnl / summary.starting_equity * 100 if summary.starting_equity else 0
    return {
        "run id": summary.run_id,
        "bars": f"{summary.bars} ({', '.join(summary.symbols)})",
        "bars span": span,
        "decisions": _counts(summary.total_decisions, summary.decisions),
        "orders": _counts(sum(summary.orders.values()), summary.orders),
        "fills": str(summary.fills),
        "starting equity": _money(summary.starting_equity, summary.currency),
        "ending equity": (f"{_money(summary.ending_equity, summary.currency)} ({pct:+.3f}%)"),
        "realized P&L": _money(summary.realized_pnl, summary.currency),
        "unrealized P&L": _money(summary.unrealized_pnl, summary.currency),
        "commissions": _money(summary.commissions, summary.currency),
        "stopped early": "yes" if summary.stopped_early else "no",
        "decisions audited in": summary.database,
    }


def _money(amount: Decimal, currency: str) -> str:
    return f"{format_money(amount, currency)} {currency}"


def _counts(total: int, parts: dict[str, int]) -> str:
    detail = ", ".join(f"{name} {number}" for name, number in sorted(parts.items()))
    return f"{total} ({detail})" if detail else str(total)
