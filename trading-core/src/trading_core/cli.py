"""The `trading-core` command: run the paper-trading loop, manage the database schema."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from trading_core.cli_approvals import approvals_app
from trading_core.cli_state import kill_app, state_app
from trading_core.domain.errors import TradingError
from trading_core.domain.signal import Decision, DecisionType
from trading_core.orchestrator.pipeline import PipelineStats
from trading_core.orchestrator.summary import RunSummary
from trading_core.settings import Settings, SourceKind, load_settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Autonomous trading core: paper trading by default, every decision audited.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema management.")
app.add_typer(db_app, name="db")
app.add_typer(kill_app, name="kill-switch")
app.add_typer(state_app, name="state")
app.add_typer(approvals_app, name="approvals")

EXIT_BAD_INPUT = 2


def _fail(exc: TradingError) -> typer.Exit:
    typer.secho(f"error [{exc.code}]: {exc.message}", fg=typer.colors.RED, err=True)
    return typer.Exit(EXIT_BAD_INPUT)


class _Progress:
    """Prints a progress line to stderr at most every ``interval`` seconds of wall time."""

    def __init__(self, interval: float = 1.0) -> None:
        self._interval = interval
        self._last = 0.0
        self._started = time.monotonic()

    def __call__(self, stats: PipelineStats, at: datetime, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last < self._interval and (total is None or stats.bars < total):
            return
        self._last = now
        share = f"{stats.bars / total:6.1%} " if total else ""
        rate = stats.bars / max(now - self._started, 1e-9)
        typer.echo(
            f"{share}{stats.bars} bars | {at:%Y-%m-%d %H:%M} | decisions "
            f"{sum(stats.decisions.values())} | orders {sum(stats.orders.values())} | "
            f"fills {stats.fills} | {rate:,.0f} bars/s",
            err=True,
        )


@app.command()
def run(
    source: Annotated[
        SourceKind | None, typer.Option(help="Market data: synthetic (default), replay, kraken.")
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option(help="Data file to replay (CSV, feather, Parquet); repeat for several."),
    ] = None,
    symbols: Annotated[
        list[str] | None, typer.Option(help="Symbols to trade (default: all in the data).")
    ] = None,
    max_bars: Annotated[int | None, typer.Option(help="Stop after this many bars.")] = None,
    db_url: Annotated[
        str | None, typer.Option(help="postgresql://... (default: SQLite under data/).")
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option(help="redis://... (default: in-process bus).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where the SQLite file lives.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of synthetic data and fills.")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
) -> None:
    """Run the paper-trading pipeline over market data and audit every decision."""
    if data and source is None:
        source = SourceKind.REPLAY
    try:
        settings = load_settings(
            source=source,
            data=data,
            symbols=symbols,
            max_bars=max_bars,
            db_url=db_url,
            redis_url=redis_url,
            data_dir=data_dir,
            seed=seed,
            metrics_port=metrics_port,
        )
        summary = asyncio.run(_run_until_interrupted(settings, None if quiet else _Progress()))
    except TradingError as exc:
        raise _fail(exc) from None
    typer.echo(summary.render())


async def _run_until_interrupted(settings: Settings, progress: _Progress | None) -> RunSummary:
    """Run the pipeline; Ctrl-C or SIGTERM stops it after the current bar, state flushed."""
    from trading_core.orchestrator.runner import run as run_pipeline

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        return await run_pipeline(settings, stop=stop, progress=progress)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


@db_app.command("upgrade")
def db_upgrade(
    db_url: Annotated[
        str | None, typer.Option(help="Database URL (default: embedded SQLite).")
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


@app.command()
def decisions(
    run_id: Annotated[str | None, typer.Option(help="Only this run's decisions.")] = None,
    symbol: Annotated[str | None, typer.Option(help="Only this symbol.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many of the most recent rows.")] = 20,
    actions_only: Annotated[
        bool, typer.Option("--actions", help="Only entries, exits and rejections.")
    ] = False,
    db_url: Annotated[
        str | None, typer.Option(help="Database URL (default: embedded SQLite).")
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
        return rows[-limit:]

    try:
        settings = load_settings(db_url=db_url)
        rows = asyncio.run(_read())
    except TradingError as exc:
        raise _fail(exc) from None
    if not rows:
        typer.echo("no decisions recorded yet: run `trading-core run` first")
    for row in rows:
        typer.echo(
            f"{row.timestamp:%Y-%m-%d %H:%M} {row.symbol:<10} {row.decision_type:<8} "
            f"{row.reasoning} => {row.final_action}"
        )


def main() -> None:
    """Console-script entry point."""
    app(prog_name="trading-core")


if __name__ == "__main__":
    main()
