"""What the operator commands do, through the same services as the CLI and the MCP servers.

/kill, /stop, /pause and /start are the trading-state service's transitions (``trading-core
kill-switch activate``, ``state pause``, ``state resume``), with the same rules: a resume is a
person's act and never lifts a kill (that is ``trading-core kill-switch reset`` after a review,
at a terminal). /approve is ``ApprovalService.approve`` (``trading-core approvals approve``): the
claim is single use and every guardrail runs again at that moment; the bot adds the one-time
code in front of it. Every act is recorded under the person's principal, ``telegram:<user id>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from trading_core.domain.approval import Approval, ApprovalStatus
from trading_core.orchestrator.runner import read_risk_limits
from trading_core.services.approvals import ApprovalAlreadyDecidedError, ApprovalExpiredError
from trading_core.services.container import TradingApp
from trading_core.services.limits import ChangeKind, RiskLimitRefusedError
from trading_core.services.principals import Principal, PrincipalKind
from trading_core.settings import Settings, load_settings

from .codes import OneTimeCodes, Redeemed
from .replies import state_line

MAX_PAUSE_MINUTES: Final = 7 * 24 * 60
"""As `trading-core state pause --minutes`."""


def person(user_id: int) -> Principal:
    """The principal a Telegram user acts as: a person, named by the stable user id."""
    return Principal(name=f"telegram:{user_id}", kind=PrincipalKind.HUMAN)


async def kill(app: TradingApp, by: Principal, reason: str) -> str:
    """Activate the kill switch: KILLED is latched first, then this process cancels every open
    order and, with ``kill_switch.flatten = "all"``, closes every position (as the MCP tool)."""
    record = await app.state.activate_kill_switch(
        reason=reason or "kill switch from Telegram", by=by.name
    )
    await app.account.sync()
    still_open = [
        f"{p.symbol} {p.quantity}"
        for p in app.account.portfolio.positions.values()
        if p.quantity != 0
    ]
    left = ", ".join(still_open) if still_open else "none"
    return (
        f"kill switch ON: {state_line(record)}\nopen positions now: {left}\n"
        "lifting it takes a review at a terminal: trading-core kill-switch reset --reason ..."
    )


async def stop(app: TradingApp, by: Principal, reason: str) -> str:
    """freqtrade's /stop: no new orders (HALTED, cancels still pass) until a person /starts."""
    record = await app.state.halt(reason=reason or "stopped from Telegram", by=by.name)
    return f"stopped: {state_line(record)}\n/start resumes (an approver)"


async def pause(app: TradingApp, by: Principal, minutes: int, reason: str) -> str:
    if not 1 <= minutes <= MAX_PAUSE_MINUTES:
        return f"refused: a pause is 1 to {MAX_PAUSE_MINUTES} minutes, not {minutes}"
    record = await app.state.pause(
        reason=reason or f"paused from Telegram for {minutes} min", minutes=minutes, by=by.name
    )
    return f"paused: {state_line(record)}"


async def start(app: TradingApp, by: Principal, reason: str) -> str:
    """freqtrade's /start: ``trading-core state resume`` (raises what it raises, e.g. while
    KILLED)."""
    record = await app.state.resume(
        by=by.name, human=True, reason=reason or "resumed from Telegram"
    )
    return f"resumed: {state_line(record)}"


async def reject(app: TradingApp, by: Principal, approval_id: str, reason: str) -> str:
    """Reject a pending request. No code: rejecting only removes risk (anyone may reject, as in
    ``ApprovalService.reject``), and a stolen code could not make it worse."""
    done = await app.approvals.reject(approval_id, by=by, reason=reason or "rejected from Telegram")
    return f"rejected {done.approval_id}: {done.summary} (by {done.decided_by})"


@dataclass(frozen=True, slots=True)
class CodeSent:
    """A code was issued: ``code_text`` goes to the approver's private chat, ``ack`` back."""

    code_text: str
    ack: str


async def ask_for_code(
    app: TradingApp, codes: OneTimeCodes, user_id: int, approval_id: str
) -> CodeSent:
    """Issue a one-time code for ``approval_id`` to ``user_id``; the approval must be pending
    (``ApprovalService.get`` raises for an unknown id, :func:`ensure_pending` for the rest)."""
    approval = ensure_pending(await app.approvals.get(approval_id))
    code, expires = codes.issue(approval_id, user_id, not_after=approval.expires_at)
    code_text = (
        f"code for {approval_id}: {code}\n{approval.summary} (asked by {approval.requested_by})\n"
        f"approve with: /approve {approval_id} {code}\n"
        f"good once, until {expires:%H:%M:%S} UTC; the guardrails run again when you approve"
    )
    ack = (
        f"a one-time code for {approval_id} was sent to you in a private chat with this bot; "
        f"reply /approve {approval_id} CODE"
    )
    return CodeSent(code_text=code_text, ack=ack)


async def approve_with_code(
    app: TradingApp, codes: OneTimeCodes, user_id: int, approval_id: str, code: str
) -> str:
    """Check the code, then carry the approval out as ``trading-core approvals approve`` does.

    The approval's expiry is checked before the code (an expired approval is named as such,
    and its codes are forgotten); ``ApprovalService.approve`` checks it again when it claims.
    """
    try:
        ensure_pending(await app.approvals.get(approval_id))
    except (ApprovalExpiredError, ApprovalAlreadyDecidedError):
        codes.discard(approval_id)
        raise
    verdict, tries_left = codes.redeem(approval_id, user_id, code)
    if verdict is Redeemed.WRONG:
        return f"refused: wrong code for {approval_id} ({tries_left} tries left)"
    if verdict is not Redeemed.OK:
        said = {
            Redeemed.NONE: "no valid code of yours for it (a code works once)",
            Redeemed.EXPIRED: "the code expired",
            Redeemed.BURNT: "wrong code, no tries left: the code is burnt",
        }[verdict]
        return f"refused: {said}; send /approve {approval_id} for a new code"
    done = await app.approvals.approve(
        approval_id, by=person(user_id), reason="approved from Telegram with a one-time code"
    )
    codes.discard(approval_id)
    return _approved_text(done)


def ensure_pending(approval: Approval) -> Approval:
    """``approval`` if it still waits for a person; else the error the CLI would give."""
    if approval.status is ApprovalStatus.EXPIRED:
        raise ApprovalExpiredError(
            f"approval {approval.approval_id} expired at "
            f"{approval.expires_at:%Y-%m-%d %H:%M:%S} UTC; ask again"
        )
    if approval.status is not ApprovalStatus.PENDING:
        raise ApprovalAlreadyDecidedError(
            f"approval {approval.approval_id} is already {approval.status} (single use)"
        )
    return approval


def _approved_text(done: Approval) -> str:
    """What `trading-core approvals approve` prints, as one message."""
    lines = [f"{done.approval_id} {done.status}: {done.summary} (by {done.decided_by})"]
    outcome = done.result
    violations = [v for v in outcome.get("violations") or [] if isinstance(v, dict)]
    if "status" in outcome:
        codes = ", ".join(str(v.get("code")) for v in violations)
        lines.append(f"result: {outcome['status']}" + (f" ({codes})" if codes else ""))
    if done.status is not ApprovalStatus.EXECUTED:
        verdict = (
            "the guardrails refused it at approval time"
            if done.status is ApprovalStatus.REFUSED
            else "carrying it out failed"
        )
        lines.append(f"NOT carried out: {verdict}")
        lines += [f"  {v.get('code')}: {v.get('message')}" for v in violations]
        if not violations and "code" in outcome:
            said = outcome.get("cli_message") or outcome.get("message") or ""
            lines.append(f"  {outcome['code']}: {said}")
    return "\n".join(lines)


async def reload_config(app: TradingApp, by: Principal, fresh: Settings) -> str:
    """Apply the configuration ``fresh`` re-read: tighter risk limits now, the rest reported.

    Each pre-trade limit in risk_limits.toml tighter than the effective one is applied as a
    run-time tightening (config.risk_limits, so every process on the database adopts it, as
    `set_risk_limit` does); a looser one is refused (loosening takes a person's approval, never
    a file re-read). Breakers, allow-lists and settings.toml changes are named, to apply at the
    next start of each process.
    """
    configured = read_risk_limits(fresh.risk_limits_file)
    applied: list[str] = []
    refused: list[str] = []
    restart: list[str] = []
    for key in sorted(configured.configured_keys):
        value = getattr(configured, key)
        current = getattr(app.limits.effective, key)
        if not isinstance(value, Decimal | int) or isinstance(value, bool):
            if value != current:
                restart.append(key)
            continue
        try:
            change = app.limits.judge(key, Decimal(value))
        except RiskLimitRefusedError as exc:
            refused.append(f"{key}: {exc.message}")
            continue
        if change.kind is ChangeKind.TIGHTEN:
            await app.limits.apply(change, by=by.name)
            applied.append(f"{key} {change.current} -> {change.proposed}")
        elif change.kind is ChangeKind.LOOSEN:
            refused.append(
                f"{key} {change.current} -> {change.proposed} is looser: not applied (a person "
                "approves a loosening through set_risk_limit)"
            )
    app.orders.update_limits(app.limits.effective)
    if configured.breakers != app.state.breaker_limits:
        restart.append("breakers")
    restart += _changed_sections(app.settings, fresh)
    lines = [f"applied now: {'; '.join(applied)}" if applied else "no limit tightened"]
    lines += [f"refused: {line}" for line in refused]
    if restart:
        lines.append(f"changed, applied at the next start: {', '.join(restart)}")
    if not applied and not refused and not restart:
        lines = ["nothing changed"]
    return "\n".join(lines)


def reread(current: Settings) -> Settings:
    """The configuration as the files and environment say now, keeping what the command line
    chose (database, data directory, config directory)."""
    return load_settings(
        config_dir=current.config_dir, data_dir=current.data_dir, db_url=current.db_url
    )


def _changed_sections(old: Settings, new: Settings) -> list[str]:
    before, after = old.model_dump(), new.model_dump()
    return sorted(key for key in before if before[key] != after.get(key))
