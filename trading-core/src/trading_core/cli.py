"""The `trading-core` command: run the paper-trading loop, manage the database schema."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from trading_core.cli_approvals import approvals_app
from trading_core.cli_plugins import add_plugin_commands
from trading_core.cli_state import kill_app, state_app
from trading_core.cli_telegram import telegram
from trading_core.cli_train import train
from trading_core.domain.errors import ConfigurationError, TradingError
from trading_core.domain.signal import Decision, DecisionType
from trading_core.orchestrator.pipeline import PipelineStats
from trading_core.orchestrator.summary import RunSummary
from trading_core.settings import Settings, SourceKind, load_settings

if TYPE_CHECKING:
    from trading_core.reporting.backtest import BacktestResult

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    # Plain click help (every sub-command inherits it): rich's panels cut help text with an
    # ellipsis, kept docstring line breaks mid-sentence and showed flags as `--quiet <bool>`.
    rich_markup_mode=None,
    help="Autonomous trading core: paper trading by default, every decision audited.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema management.")
app.add_typer(db_app, name="db")
app.add_typer(kill_app, name="kill-switch")
app.add_typer(state_app, name="state")
app.add_typer(approvals_app, name="approvals")
app.command(short_help="Run the operators' Telegram bot (long polling).")(telegram)
app.command(short_help="Train the LightGBM direction model on a bar file (model + card).")(train)
add_plugin_commands(app)  # `assistant` (the LLM-agent host) when mcp-servers is installed

EXIT_BAD_INPUT = 2
_T = TypeVar("_T")


def _agent_overrides(agent: str | None, agents: str | None) -> dict[str, object] | None:
    """The agent section a backtest's --agent / --agents ask for (None: as configured)."""
    if agent is not None and agents is not None:
        raise TradingError("give --agent or --agents, not both", code="INVALID_ARGUMENT")
    current = load_settings().agent.model_dump()
    if agent is not None:
        # --agent NAME trades that agent alone, whatever committee the settings name.
        return {**current, "name": agent, "committee": []}
    if agents is not None:
        members = [name.strip() for name in agents.split(",") if name.strip()]
        if not members:
            raise TradingError("--agents needs at least one agent name", code="INVALID_ARGUMENT")
        return {**current, "committee": members}
    return None


def _sentiment_overrides(headlines: Path | None) -> dict[str, object] | None:
    """The sentiment section with a backtest's --headlines (None: as configured)."""
    if headlines is None:
        return None
    return {**load_settings().sentiment.model_dump(), "headlines": headlines}


def _fail(exc: TradingError) -> typer.Exit:
    typer.secho(f"error [{exc.code}]: {exc.cli_message}", fg=typer.colors.RED, err=True)
    return typer.Exit(EXIT_BAD_INPUT)


class _Progress:
    """Prints a progress line to stderr at most every ``interval`` seconds of wall time.

    With ``bar_width`` the line starts with a bar and ends with the time left; with ``overwrite``
    (a terminal) each line replaces the last one and :meth:`done` ends it.
    """

    def __init__(
        self, interval: float = 1.0, *, bar_width: int = 0, overwrite: bool = False
    ) -> None:
        self._interval = interval
        self._bar_width = bar_width
        self._overwrite = overwrite
        self._last = 0.0
        self._started = time.monotonic()
        self._open_line = False
        self._first: tuple[float, int] | None = None

    def __call__(self, stats: PipelineStats, at: datetime, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last < self._interval and (total is None or stats.bars < total):
            return
        self._last = now
        share = f"{stats.bars / total:6.1%} " if total else ""
        rate = stats.bars / max(now - self._started, 1e-9)
        line = (
            f"{share}{stats.bars} bars | {at:%Y-%m-%d %H:%M} | decisions "
            f"{sum(stats.decisions.values())} | orders {sum(stats.orders.values())} | "
            f"fills {stats.fills} | {rate:,.0f} bars/s"
        )
        if self._bar_width and total:
            filled = min(self._bar_width, self._bar_width * stats.bars // total)
            bar = "#" * filled + "." * (self._bar_width - filled)
            line = f"[{bar}] {line}{self._time_left(now, stats.bars, total)}"
        if self._overwrite:
            typer.echo(f"\r{line}\x1b[K", err=True, nl=False)
            self._open_line = True
        else:
            typer.echo(line, err=True)

    def _time_left(self, now: float, bars: int, total: int) -> str:
        # Timed from the first report, not from start-up: loading the files is not replay speed.
        if self._first is None:
            self._first = (now, bars)
        since, first_bars = self._first
        if bars <= first_bars or now <= since:
            return ""
        left = max(total - bars, 0) * (now - since) / (bars - first_bars)
        return f" | {left:,.0f} s left"

    def done(self) -> None:
        """End an overwritten line, so what follows starts on its own."""
        if self._open_line:
            typer.echo("", err=True)
            self._open_line = False


@app.command(short_help="Trade over market data (paper unless --live), auditing every decision.")
def run(
    source: Annotated[
        SourceKind | None,
        typer.Option(
            metavar="SOURCE",
            help="Market data: synthetic (default), replay, kraken, ib (live IB only).",
        ),
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="FILE", help="Data file to replay (CSV, feather, Parquet); repeat for several."
        ),
    ] = None,
    symbols: Annotated[
        list[str] | None,
        typer.Option(metavar="SYMBOL", help="Symbols to trade (default: all in the data)."),
    ] = None,
    max_bars: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Stop after N bars of each symbol (N bar times; the summary's bars processed "
            "counts every symbol's bars, up to N x symbols).",
        ),
    ] = None,
    db_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL", help="postgresql://... (default: SQLite in the per-user data directory)."
        ),
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option(metavar="URL", help="redis://... (default: in-process bus).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(metavar="DIR", help="Where the SQLite file lives.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(metavar="N", help="Seed of synthetic data and fills.")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(metavar="PORT", help="Serve Prometheus metrics on this port.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    speed: Annotated[
        float | None,
        typer.Option(
            metavar="FACTOR", help="Replay pacing: 1 = wall-clock, 60 = sixty times faster."
        ),
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Trade real money on Kraken. Takes TRADING_MODE=live as well (two switches), "
            "--source kraken and Kraken API keys; refuses to trade until the start-up "
            "reconciliation passes.",
        ),
    ] = False,
    tools: Annotated[
        str | None,
        typer.Option(
            metavar="KIND",
            help="Where orders go: in-process (default) or mcp, a suite served over HTTP "
            "(--mcp-url; live paper feeds only, token TRADING_MCP__TOKENS__TRADING_CORE).",
        ),
    ] = None,
    mcp_url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="The suite for --tools mcp: http://HOST:8765/mcp."),
    ] = None,
) -> None:
    """Run the trading pipeline over market data and audit every decision (paper by default)."""
    if data and source is None:
        source = SourceKind.REPLAY
    chosen = {"kind": tools, "mcp_url": mcp_url}
    try:
        settings = load_settings(
            tools={key: value for key, value in chosen.items() if value is not None} or None,
            source=source,
            data=data,
            symbols=symbols,
            max_bars=max_bars,
            db_url=db_url,
            redis_url=redis_url,
            data_dir=data_dir,
            seed=seed,
            metrics_port=metrics_port,
            speed=speed,
        )
        summary = asyncio.run(
            _run_until_interrupted(settings, None if quiet else _Progress(), live=live)
        )
    except TradingError as exc:
        raise _fail(exc) from None
    typer.echo(summary.render())


async def _run_until_interrupted(
    settings: Settings, progress: _Progress | None, *, live: bool = False
) -> RunSummary:
    """Run the pipeline; Ctrl-C or SIGTERM stops it after the current bar, state flushed."""
    from trading_core.orchestrator.runner import run as run_pipeline

    return await _until_interrupted(
        lambda stop: run_pipeline(settings, stop=stop, progress=progress, live=live)
    )


async def _until_interrupted(work: Callable[[asyncio.Event], Awaitable[_T]]) -> _T:
    """Await ``work(stop)``; Ctrl-C or SIGTERM sets ``stop`` (the run ends after its bar)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        return await work(stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


@app.command(short_help="Backtest agents over recorded bars and write a report.")
def backtest(
    data: Annotated[
        list[Path],
        typer.Option(
            metavar="FILE",
            help="Data files to replay (CSV, feather, Parquet): --data A B C or --data A --data B.",
        ),
    ],
    report: Annotated[
        Path,
        typer.Option(
            metavar="DIR", help="Directory for metrics.json, trades.csv, equity.png, report.html."
        ),
    ],
    more_data: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="FILE", help="More data files (after --data A).", show_default=False
        ),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Agent to trade with (default: from settings)."),
    ] = None,
    agents: Annotated[
        str | None,
        typer.Option(
            metavar="NAMES",
            help="A committee, comma-separated (e.g. trend_hunter,mean_reversion,"
            "volatility_filter); its entry threshold comes from settings (agent.entry_threshold).",
        ),
    ] = None,
    symbols: Annotated[
        list[str] | None,
        typer.Option(metavar="SYMBOL", help="Symbols to trade (default: all in the data)."),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="TIME",
            help="First bar's open time, inclusive (ISO 8601; UTC if no zone).",
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            metavar="TIME",
            help="Bars opening at or after this are left out (ISO 8601; UTC if no zone).",
        ),
    ] = None,
    db_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL", help="postgresql://... (default: SQLite in the per-user data directory)."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(metavar="N", help="Seed of the simulated fills.")
    ] = None,
    headlines: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Headlines (CSV, JSONL or RSS) scored into the sentiment indicator that "
            "sentiment_scout trades on; a headline counts for bars closing after it.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    grid: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=V1,V2",
            help="Sweep a parameter (repeat for a grid): an agent parameter (fast=5,10), a "
            "committee member's (trend_hunter.adx_period=14,20) or entry_threshold, "
            "exit_threshold, order_fraction. Writes comparison.csv and comparison.html.",
        ),
    ] = None,
    rank: Annotated[
        str,
        typer.Option(metavar="METRIC", help="What --grid ranks by (sharpe, total_return, ...)."),
    ] = "sharpe",
    jobs: Annotated[
        int | None,
        typer.Option(metavar="N", min=1, help="Processes for --grid (default: one per core)."),
    ] = None,
) -> None:
    """Backtest an agent over recorded bars with the live orchestrator, and write a report.

    Signals at a bar's close trade at the next bar's open with the paper broker's spread,
    slippage and fees; risk limits and circuit breakers are active; every decision is audited.
    """
    from trading_core.reporting.backtest import run_backtest
    from trading_core.reporting.writer import check_report_dir

    progress = None if quiet else _Progress(bar_width=30, overwrite=sys.stderr.isatty())
    try:
        start, end = _moment("--from", from_), _moment("--to", to)
        check_report_dir(report)
        settings = load_settings(
            source=SourceKind.REPLAY,
            data=[*data, *(more_data or [])],
            symbols=symbols,
            db_url=db_url,
            seed=seed,
            agent=_agent_overrides(agent, agents),
            sentiment=_sentiment_overrides(headlines),
        )
        if grid:
            _sweep(settings, grid, report=report, rank=rank, jobs=jobs, window=(start, end))
            return
        result = asyncio.run(
            _until_interrupted(
                lambda stop: run_backtest(
                    settings,
                    report_dir=report,
                    start=start,
                    end=end,
                    stop=stop,
                    progress=progress,
                )
            )
        )
    except TradingError as exc:
        if progress is not None:
            progress.done()
        raise _fail(exc) from None
    if progress is not None:
        progress.done()
    typer.echo(_backtest_summary(result))


def _sweep(
    settings: Settings,
    specs: list[str],
    *,
    report: Path,
    rank: str,
    jobs: int | None,
    window: tuple[datetime | None, datetime | None],
) -> None:
    """``backtest --grid``: every combination in parallel, a progress line, a ranked table."""
    from trading_core.reporting.grid import GridOutcome, grid_points, parse_grid, run_grid
    from trading_core.reporting.report import format_metric, metric_kind

    points = grid_points(settings.agent, parse_grid(specs))
    typer.echo(f"sweeping {len(points)} parameter sets", err=True)

    def done(outcome: GridOutcome, finished: int, total: int) -> None:
        shown = ", ".join(f"{k}={v}" for k, v in outcome.point.values.items())
        status = outcome.error or f"{outcome.bars:,} bars in {outcome.seconds:.1f} s"
        filled = round(20 * finished / total)
        bar = "#" * filled + "-" * (20 - filled)
        typer.echo(f"[{bar}] {finished}/{total} {shown}: {status}", err=True)

    start, end = window
    result = run_grid(
        settings,
        points,
        report_dir=report,
        rank_by=rank,
        start=start,
        end=end,
        jobs=jobs,
        on_done=done,
    )
    typer.echo(f"best by {rank}:")
    for position, outcome in enumerate(result.outcomes[:5], start=1):
        shown = ", ".join(f"{k}={v}" for k, v in outcome.point.values.items())
        value = (outcome.metrics or {}).get(rank)
        typer.echo(f"  {position}. {shown}: {rank} {format_metric(value, metric_kind(rank))}")
    typer.echo(
        f"{result.bars:,} bars in {result.seconds:.1f} s ({result.bars_per_second:,.0f} bars/s)"
    )
    typer.echo(f"comparison: {result.csv_path}\n            {result.html_path}")


def _moment(flag: str, text: str | None) -> datetime | None:
    """An ISO 8601 date or time from the command line; one without a zone is UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigurationError(
            f"{flag} {text!r} is not an ISO 8601 date or time (e.g. 2018-01-15T12:00)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _backtest_summary(result: BacktestResult) -> str:
    from trading_core.reporting.report import render_metrics

    files = result.files
    return "\n".join(
        [
            result.summary.render(),
            "metrics",
            render_metrics(result.report),
            "report",
            f"  html           : {files.html}",
            f"  metrics        : {files.metrics}",
            f"  trades         : {files.trades}",
            f"  chart          : {files.chart}",
        ]
    )


@db_app.command("backup")
def db_backup(
    to: Annotated[Path, typer.Option(metavar="DIR", help="Directory the backups are kept in.")],
    keep: Annotated[
        int, typer.Option(metavar="N", help="Backups to keep in DIR (older ones are deleted).")
    ] = 7,
    db_url: Annotated[
        str | None, typer.Option(metavar="URL", help="Database URL (default: embedded SQLite).")
    ] = None,
) -> None:
    """Back the database up (pg_dump custom format, or SQLite's online backup) with a SHA-256."""
    from trading_core.adapters.clock import SystemClock
    from trading_core.storage.backup import backup_database

    try:
        settings = load_settings(db_url=db_url)
        made, removed = backup_database(
            settings.database_url, to, now=SystemClock().now(), keep=keep
        )
    except TradingError as exc:
        raise _fail(exc) from None
    typer.echo(f"{made.path} ({made.size:,} bytes, sha256 {made.sha256})")
    for old in removed:
        typer.echo(f"deleted {old.name} (keeping the newest {keep})")


@db_app.command("restore")
def db_restore(
    backup: Annotated[Path, typer.Argument(metavar="FILE", help="A backup made by db backup.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Replace the database without asking.")
    ] = False,
    db_url: Annotated[
        str | None, typer.Option(metavar="URL", help="Database URL (default: embedded SQLite).")
    ] = None,
) -> None:
    """Replace the database with a verified backup (stop every process using it first)."""
    from trading_core.storage.backup import restore_database, verify_backup
    from trading_core.storage.urls import mask_url

    try:
        settings = load_settings(db_url=db_url)
        verify_backup(backup)
        target = mask_url(settings.database_url)
        if not yes and not typer.confirm(f"replace {target} with {backup.name}?", default=False):
            typer.echo("nothing restored")
            raise typer.Exit(EXIT_BAD_INPUT)
        restored = restore_database(settings.database_url, backup)
    except TradingError as exc:
        raise _fail(exc) from None
    typer.echo(f"restored {target} from {restored.path.name} (sha256 {restored.sha256})")


@db_app.command("upgrade")
def db_upgrade(
    db_url: Annotated[
        str | None, typer.Option(metavar="URL", help="Database URL (default: embedded SQLite).")
    ] = None,
) -> None:
    """Apply pending schema migrations."""
    from trading_core.storage.factory import open_store

    async def _upgrade() -> tuple[str, list[int], int]:
        store = await open_store(settings.database_url)
        try:
            applied = await store.upgrade()
            return store.url, applied, await store.schema_version()
        finally:
            await store.close()

    try:
        settings = load_settings(db_url=db_url)
        url, applied, version = asyncio.run(_upgrade())
    except TradingError as exc:
        raise _fail(exc) from None
    done = f"applied {', '.join(map(str, applied))}" if applied else "already up to date"
    typer.echo(f"{url}: schema version {version} ({done})")


@app.command(short_help="Show recent decisions: what was decided and why.")
def decisions(
    run_id: Annotated[
        str | None, typer.Option(metavar="ID", help="Only this run's decisions.")
    ] = None,
    symbol: Annotated[str | None, typer.Option(metavar="SYMBOL", help="Only this symbol.")] = None,
    limit: Annotated[
        int,
        typer.Option(
            min=1,
            metavar="N",
            help="How many of the most recent rows (stderr says when there are more).",
        ),
    ] = 20,
    actions_only: Annotated[
        bool, typer.Option("--actions", help="Only entries, exits and rejections.")
    ] = False,
    db_url: Annotated[
        str | None, typer.Option(metavar="URL", help="Database URL (default: embedded SQLite).")
    ] = None,
) -> None:
    """Show the most recent rows of audit.decisions: what was decided and why."""
    from trading_core.storage.factory import open_store

    async def _read() -> list[Decision]:
        store = await open_store(settings.database_url)
        try:
            await store.upgrade()
            rows = await store.list_decisions(run_id=run_id, symbol=symbol)
        finally:
            await store.close()
        if actions_only:
            rows = [
                r for r in rows if r.decision_type not in (DecisionType.HOLD, DecisionType.SKIP)
            ]
        return rows

    try:
        settings = load_settings(db_url=db_url)
        matching = asyncio.run(_read())
    except TradingError as exc:
        raise _fail(exc) from None
    rows = matching[-limit:]
    if not rows:
        typer.echo("no decisions recorded yet: run `trading-core run` first")
    for row in rows:
        typer.echo(
            f"{row.timestamp:%Y-%m-%d %H:%M} {row.symbol:<10} {row.decision_type:<8} "
            f"{row.reasoning} => {row.final_action}"
        )
    if len(matching) > len(rows):
        # On stderr: the rows on stdout stay rows, for grep and wc.
        what = "matching decisions" if run_id or symbol or actions_only else "decisions"
        typer.echo(
            f"showing the last {len(rows):,} of {len(matching):,} {what} (--limit N for more)",
            err=True,
        )


def main() -> None:
    """Console-script entry point.

    Ends the process as soon as the command is done: by then every store, bus and source is
    closed and every decision written. Tearing down the interpreter after a run that loaded ccxt
    (hundreds of exchange classes) took seconds more, which made a Ctrl-C look ignored.
    """
    try:
        app(prog_name="trading-core")
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
