"""Deciding an approval from a tool: ask the person, then approve, reject, or fail closed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import mcp_types
from fastmcp import Context
from pydantic import Field

from trading_core.domain.approval import Approval
from trading_core.domain.base import Frozen
from trading_core.risk.states import HumanApprovalRequired
from trading_core.services.container import TradingApp

from .human import Asked, HumanAnswer, ask_person, out_of_band_hint
from .runtime import current_principal


class ApprovalView(Frozen):
    """An approval as a client sees it."""

    approval_id: str
    kind: str
    status: str
    summary: str
    requested_by: str
    created_at: datetime
    expires_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    message: str = ""

    @classmethod
    def of(cls, approval: Approval, message: str = "") -> ApprovalView:
        # Every field but the payload (a client reads the summary, not the raw request).
        return cls(**approval.model_dump(mode="json", exclude={"payload"}), message=message)


async def decide_with_person(
    ctx: Context, app: TradingApp, approval: Approval
) -> ApprovalView | mcp_types.InputRequiredResult:
    """Ask the person about ``approval`` and carry out what they say.

    Raises :class:`HumanApprovalRequired` when no yes came back within the call (the approval
    stays pending for the out-of-band path).
    """
    if not app.settings.approvals.in_band:
        raise HumanApprovalRequired(
            f"this server accepts approvals only out of band; {out_of_band_hint(approval)}"
        )
    asked = await ask_person(
        ctx,
        approval,
        asked_by=current_principal(),
        timeout=app.settings.approvals.elicitation_timeout_seconds,
    )
    if isinstance(asked, Asked):
        return asked.result
    if asked.answer is HumanAnswer.APPROVED and asked.approver is not None:
        done = await app.approvals.approve(approval.approval_id, by=asked.approver)
        return ApprovalView.of(done, f"{asked.detail}: {done.status}")
    if asked.answer is HumanAnswer.DECLINED and asked.approver is not None:
        rejected = await app.approvals.reject(
            approval.approval_id, by=asked.approver, reason=asked.detail
        )
        return ApprovalView.of(rejected, asked.detail)
    raise HumanApprovalRequired(f"not approved: {asked.detail}; {out_of_band_hint(approval)}")
