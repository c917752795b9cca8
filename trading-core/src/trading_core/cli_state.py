"""`trading-core kill-switch ...` and `trading-core state ...`: the out-of-band human commands.

Whoever runs these is a person at a terminal, so loosening (reset, resume) is allowed here and
nowhere a model can reach. Every command records who and why in audit.system_events.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer

from trading_core.adapters.bus_factory import open_bus
from trading_core.adapters.clock import SystemClock
from trading_core.domain.errors import TradingError
from trading_core.execution.trading_state import TradingStateService
from trading_core.risk.states import StateRecord
from trading_core.settings import load_settings
from trading_core.storage.factory import open_store

kill_app = typer.Typer(no_args_is_help=True, help="The kill switch: activate, reset, status.")
state_app = typer.Typer(no_args_is_help=True, help="Trading state: status, pause, resume.")

DbUrl = Annotated[str | None, typer.Option(help="Database URL (default: embedded SQLite).")]
Reason = Annotated[str, typer.Option(help="Why (recorded in the audit trail).")]


def _operator() -> str:
    return f"cli:{getpass.getuser()}"


def _with_service(
    db_url: str | None, action: Callable[[TradingStateService], Awaitable[StateRecord]]
) -> StateRecord:
    async def _go() -> StateRecord:
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
        typer.secho(f"error [{exc.code}]: {exc.message}", fg=typer.colors.RED, err=True)
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
    """Stop everything now: block new orders; running loops cancel their open orders."""
    _show(_with_service(db_url, lambda s: s.activate_kill_switch(reason=reason, by=_operator())))


@kill_app.command("reset")
def kill_reset(
    reason: Reason,
    override_latch: Annotated[
        bool, typer.Option(help="Reset inside the 24 h latch (after a review).")
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


@state_app.command("status")
def state_status(db_url: DbUrl = None) -> None:
    """Show the trading state."""
    _show(_with_service(db_url, _current))


@state_app.command("pause")
def state_pause(
    reason: Reason,
    minutes: Annotated[int, typer.Option(min=1, max=7 * 24 * 60, help="How long.")] = 60,
    db_url: DbUrl = None,
) -> None:
    """Halt new orders for a while (cancels still allowed)."""
    _show(_with_service(db_url, lambda s: s.pause(reason=reason, minutes=minutes, by=_operator())))


@state_app.command("resume")
def state_resume(reason: Reason, db_url: DbUrl = None) -> None:
    """Back to ACTIVE from a pause or REDUCING. A person only; not from KILLED."""
    _show(_with_service(db_url, lambda s: s.resume(by=_operator(), human=True, reason=reason)))
