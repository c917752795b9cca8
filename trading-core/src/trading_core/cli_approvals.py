"""`trading-core approvals list|approve|reject`: the out-of-band path for a person to decide.

Whoever runs these is a person at a terminal, so approving is allowed here. Approving re-runs every
guardrail at that moment (through this process's order service, on the shared database), is single
use (a second approve of the same id fails), and records who approved in the audit trail.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from trading_core.domain.approval import Approval, ApprovalStatus
from trading_core.domain.errors import TradingError
from trading_core.services.container import TradingApp, open_app
from trading_core.services.principals import Principal, PrincipalKind
from trading_core.settings import load_settings

approvals_app = typer.Typer(no_args_is_help=True, help="Approvals waiting for a person.")

DbUrl = Annotated[str | None, typer.Option(help="Database URL (default: embedded SQLite).")]
DataDir = Annotated[Path | None, typer.Option(help="Data directory of the embedded database.")]
Reason = Annotated[str, typer.Option(help="Why (recorded in the audit trail).")]

T = TypeVar("T")


def _person() -> Principal:
    return Principal(name=f"cli:{getpass.getuser()}", kind=PrincipalKind.HUMAN)


def _with_app(
    db_url: str | None, data_dir: Path | None, action: Callable[[TradingApp], Awaitable[T]]
) -> T:
    overrides: dict[str, object] = {"db_url": db_url}
    if data_dir is not None:
        overrides["data_dir"] = data_dir

    async def _go() -> T:
        app = await open_app(load_settings(**overrides), channel="cli")
        try:
            return await action(app)
        finally:
            await app.close()

    try:
        return asyncio.run(_go())
    except TradingError as exc:
        typer.secho(f"error [{exc.code}]: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def _line(approval: Approval) -> str:
    decided = f" by {approval.decided_by}" if approval.decided_by else ""
    return (
        f"{approval.approval_id}  {approval.status:<8} {approval.kind:<15} "
        f"{approval.summary}  (asked by {approval.requested_by}, expires "
        f"{approval.expires_at:%Y-%m-%d %H:%M:%S} UTC){decided}"
    )


@approvals_app.command("list")
def list_approvals(
    status: Annotated[
        str | None, typer.Option(help="pending, executed, refused, failed, rejected, expired")
    ] = None,
    db_url: DbUrl = None,
    data_dir: DataDir = None,
) -> None:
    """List approvals, newest first (pending ones past their expiry are marked expired)."""
    try:
        wanted = [ApprovalStatus(status)] if status else None
    except ValueError:
        typer.secho(f"error [INVALID_ARGUMENT]: unknown status {status!r}", err=True)
        raise typer.Exit(2) from None
    approvals = _with_app(db_url, data_dir, lambda app: app.approvals.list(status=wanted))
    if not approvals:
        typer.echo("no approvals")
    for approval in approvals:
        typer.echo(_line(approval))


@approvals_app.command("approve")
def approve(
    approval_id: str, reason: Reason = "", db_url: DbUrl = None, data_dir: DataDir = None
) -> None:
    """Approve and carry out a pending request; every guardrail runs again now."""
    done = _with_app(
        db_url,
        data_dir,
        lambda app: app.approvals.approve(approval_id, by=_person(), reason=reason),
    )
    typer.echo(_line(done))
    outcome = done.result
    if outcome:
        violations = outcome.get("violations") or []
        codes = ", ".join(str(v.get("code")) for v in violations if isinstance(v, dict))
        typer.echo(f"result: {outcome.get('status', outcome)}" + (f" ({codes})" if codes else ""))
    if done.status is not ApprovalStatus.EXECUTED:
        raise typer.Exit(1)


@approvals_app.command("reject")
def reject(
    approval_id: str, reason: Reason = "", db_url: DbUrl = None, data_dir: DataDir = None
) -> None:
    """Reject a pending request; nothing is carried out."""
    done = _with_app(
        db_url,
        data_dir,
        lambda app: app.approvals.reject(approval_id, by=_person(), reason=reason),
    )
    typer.echo(_line(done))
