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

DbUrl = Annotated[
    str | None, typer.Option(metavar="URL", help="Database URL (default: embedded SQLite).")
]
DataDir = Annotated[
    Path | None, typer.Option(metavar="DIR", help="Data directory of the embedded database.")
]
Reason = Annotated[str, typer.Option(metavar="TEXT", help="Why (recorded in the audit trail).")]
ApprovalId = Annotated[str, typer.Argument(metavar="APPROVAL_ID", show_default=False)]

T = TypeVar("T")

EXIT_NOT_CARRIED_OUT = 3
"""`approvals approve` exit status when a person approved but nothing was done: the guardrails
refused it at approval time, or carrying it out failed (2 stays bad input, as everywhere)."""


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
        typer.secho(f"error [{exc.code}]: {exc.cli_message}", fg=typer.colors.RED, err=True)
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
        str | None,
        typer.Option(
            metavar="STATUS", help="pending, executed, refused, failed, rejected, expired"
        ),
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
    approval_id: ApprovalId, reason: Reason = "", db_url: DbUrl = None, data_dir: DataDir = None
) -> None:
    """Approve and carry out a pending request; every guardrail runs again now.

    Exits 0 when it was carried out; 3 when it was not carried out (the guardrails refused it
    at approval time, or carrying it out failed), with the reasons on stderr; 2 for an unknown,
    expired or already decided approval.
    """
    done = _with_app(
        db_url,
        data_dir,
        lambda app: app.approvals.approve(approval_id, by=_person(), reason=reason),
    )
    typer.echo(_line(done))
    outcome = done.result
    if "status" in outcome:
        codes = _codes(outcome)
        typer.echo(f"result: {outcome['status']}" + (f" ({codes})" if codes else ""))
    if done.status is not ApprovalStatus.EXECUTED:
        verdict = (
            "the guardrails refused it at approval time"
            if done.status is ApprovalStatus.REFUSED
            else "carrying it out failed"
        )
        typer.secho(f"not carried out: {verdict}", fg=typer.colors.RED, err=True)
        for reason_line in _reasons(outcome):
            typer.echo(f"  {reason_line}", err=True)
        raise typer.Exit(EXIT_NOT_CARRIED_OUT)


def _violations(outcome: dict[str, object]) -> list[dict[str, object]]:
    found = outcome.get("violations")
    return [v for v in found if isinstance(v, dict)] if isinstance(found, list) else []


def _codes(outcome: dict[str, object]) -> str:
    return ", ".join(str(v.get("code")) for v in _violations(outcome))


def _reasons(outcome: dict[str, object]) -> list[str]:
    """``CODE: why`` for each violation of a refused order, or the one code of any other result
    (in the command line's wording when it has one)."""
    lines = [f"{v.get('code')}: {v.get('message')}" for v in _violations(outcome)]
    if not lines and "code" in outcome:
        said = outcome.get("cli_message") or outcome.get("message") or ""
        lines.append(f"{outcome['code']}: {said}")
    return lines


@approvals_app.command("reject")
def reject(
    approval_id: ApprovalId, reason: Reason = "", db_url: DbUrl = None, data_dir: DataDir = None
) -> None:
    """Reject a pending request; nothing is carried out."""
    done = _with_app(
        db_url,
        data_dir,
        lambda app: app.approvals.reject(approval_id, by=_person(), reason=reason),
    )
    typer.echo(_line(done))
