"""`trading-core kill-switch ...` and `trading-core state ...`: the out-of-band human commands.

Whoever runs these is a person at a terminal, so loosening (reset, resume, release) is allowed here
and nowhere a model can reach. Every command records who and why in audit.system_events.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from trading_core.adapters.bus_factory import open_bus
from trading_core.adapters.clock import SystemClock
from trading_core.domain.errors import TradingError
from trading_core.execution.trading_state import TradingStateService
from trading_core.risk.states import StateRecord
from trading_core.risk.throttles import ExecutionPair
from trading_core.settings import load_settings
from trading_core.storage.factory import open_store

kill_app = typer.Typer(no_args_is_help=True, help="The kill switch: activate, reset, status.")
state_app = typer.Typer(
    no_args_is_help=True, help="Trading state: status, pause, resume, release a latched pair."
)
T = TypeVar("T")

DbUrl = Annotated[
    str | None, typer.Option(metavar="URL", help="Database URL (default: embedded SQLite).")
]
Reason = Annotated[str, typer.Option(metavar="TEXT", help="Why (recorded in the audit trail).")]


def _operator() -> str:
    return f"cli:{getpass.getuser()}"


def _with_service(db_url: str | None, action: Callable[[TradingStateService], Awaitable[T]]) -> T:
    async def _go() -> T:
        settings = load_settings(db_url=db_url)
        clock = SystemClock()
        store = await open_store(settings.database_url, clock=clock)
        try:
            await store.upgrade()
            bus = await open_bus(settings.redis_url, clock)
            try:
                service = await TradingStateService.load(store=store, bus=bus, clock=clock)
                return await action(service)
            finally:
                await bus.close()
        finally:
            await store.close()

    try:
        return asyncio.run(_go())
    except TradingError as exc:
        typer.secho(f"error [{exc.code}]: {exc.cli_message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def _show(record: StateRecord) -> None:
    until = f" until {record.until:%Y-%m-%d %H:%M} UTC" if record.until else ""
    latch = (
        f"; kill switch latched until {record.kill_latched_until:%Y-%m-%d %H:%M} UTC"
        if record.kill_switch and record.kill_latched_until
        else ""
    )
    typer.echo(f"{record.state}{until} - {record.reason} (by {record.set_by}){latch}")


async def _current(service: TradingStateService) -> StateRecord:
    return service.record


@kill_app.command("status")
def kill_status(db_url: DbUrl = None) -> None:
    """Show the trading state and the kill switch."""
    _show(_with_service(db_url, _current))


@kill_app.command("activate")
def kill_activate(reason: Reason, db_url: DbUrl = None) -> None:
    """Stop everything now: block new orders; running processes cancel their open orders and,
    with kill_switch.flatten = "all", close their positions. Again while killed: a new episode
    (running processes retry a flatten a control refused)."""
    _show(_with_service(db_url, lambda s: s.activate_kill_switch(reason=reason, by=_operator())))


@kill_app.command("reset")
def kill_reset(
    reason: Reason,
    override_latch: Annotated[
        bool, typer.Option("--override-latch", help="Reset inside the 24 h latch (after a review).")
    ] = False,
    db_url: DbUrl = None,
) -> None:
    """Lift the kill switch after a review. A person only; the reason is recorded."""
    _show(
        _with_service(
            db_url,
            lambda s: s.reset_kill_switch(
                reason=reason, by=_operator(), human=True, override_latch=override_latch
            ),
        )
    )


async def _current_and_latches(
    service: TradingStateService,
) -> tuple[StateRecord, tuple[ExecutionPair, ...] | None]:
    history = await service.load_executions(fail_closed=False)
    return service.record, None if history is None else history.latched


@state_app.command("status")
def state_status(db_url: DbUrl = None) -> None:
    """Show the trading state and the strategies and symbols latched by repeated executions."""
    record, latched = _with_service(db_url, _current_and_latches)
    _show(record)
    if latched is None:
        typer.echo("repeated-execution history unreadable: trading halted until a person releases")
    for pair in latched or ():
        since = f"{pair.latched_at:%Y-%m-%d %H:%M:%S} UTC" if pair.latched_at else "?"
        typer.echo(
            f"latched: strategy {pair.strategy_id or '-'} on {pair.symbol} since {since} "
            "(trading-core state release)"
        )


@state_app.command("pause")
def state_pause(
    reason: Reason,
    minutes: Annotated[
        int, typer.Option(min=1, max=7 * 24 * 60, metavar="N", help="How long.")
    ] = 60,
    db_url: DbUrl = None,
) -> None:
    """Halt new orders for a while (cancels still allowed)."""
    _show(_with_service(db_url, lambda s: s.pause(reason=reason, minutes=minutes, by=_operator())))


@state_app.command("resume")
def state_resume(reason: Reason, db_url: DbUrl = None) -> None:
    """Back to ACTIVE from a pause or REDUCING. A person only; not from KILLED."""
    _show(_with_service(db_url, lambda s: s.resume(by=_operator(), human=True, reason=reason)))


@state_app.command("release")
def state_release(
    strategy: Annotated[
        str,
        typer.Option(
            metavar="ID", help="Strategy id of the latched pair ('' for orders without one)."
        ),
    ],
    symbol: Annotated[str, typer.Option(metavar="SYMBOL", help="Symbol of the latched pair.")],
    reason: Reason,
    db_url: DbUrl = None,
) -> None:
    """Re-enable a strategy and symbol latched by repeated executions. A person only.

    The latch and its fill history are cleared; running processes adopt it before their next
    order. A HALTED state stays HALTED: lift it with `trading-core state resume`.
    """

    async def release(service: TradingStateService) -> StateRecord:
        pair = await service.release_execution_latch(
            strategy_id=strategy, symbol=symbol, by=_operator(), human=True, reason=reason
        )
        if pair is None:
            typer.echo("the repeated-execution history was unreadable and has been reset")
        else:
            typer.echo(f"released: strategy {strategy or '-'} on {symbol}")
        return service.record

    _show(_with_service(db_url, release))


@state_app.command("adopt-venue")
def state_adopt_venue(
    reason: Reason,
    account: Annotated[
        str, typer.Option(metavar="ACCOUNT", help="The venue account whose holdings to take.")
    ] = "kraken",
    db_url: DbUrl = None,
) -> None:
    """Take the venue's holdings as the book at the next live start. A person only.

    For a difference reconciliation cannot explain (a transfer, a trade on the venue's site):
    the next `trading-core run --live` replaces each position that differs with the venue's
    quantity at its last price, audited as adopted. Trading stays reduced until `state resume`.
    """
    from trading_core.execution.reconciliation import adopt_venue_at_next_start

    async def adopt() -> None:
        settings = load_settings(db_url=db_url)
        clock = SystemClock()
        store = await open_store(settings.database_url, clock=clock)
        try:
            await store.upgrade()
            await adopt_venue_at_next_start(
                store, clock, account=account, by=_operator(), reason=reason
            )
        finally:
            await store.close()

    try:
        asyncio.run(adopt())
    except TradingError as exc:
        typer.secho(f"error [{exc.code}]: {exc.cli_message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    typer.echo(f"the next `trading-core run --live` takes {account}'s holdings as the book")
