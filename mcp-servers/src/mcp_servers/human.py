"""Asking the person in front of the client, in both protocol eras; no answer is always a no.

- 2025-11-25 (legacy) connections: ``ctx.elicit`` sends the form and waits, up to a timeout.
- 2026-07-28 (modern) connections: the tool returns an input-required result carrying the form;
  the client shows it and retries the call with the answer (``ctx.input_responses``), and with
  the request state this module minted (sealed by the framework, so it cannot be forged), which
  names the approval: an answer given for one approval never decides another.

A client that does not declare elicitation, declines, cancels, errs or never answers gets a
refusal that says how to approve out of band (``trading-core approvals approve ID``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import mcp_types
from fastmcp import Context
from pydantic import BaseModel, ConfigDict, ValidationError

from trading_core.domain.approval import Approval
from trading_core.services.principals import Principal, PrincipalKind

FORM_KEY = "approval"
_STATE_PREFIX = "approval:"


class HumanAnswer(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    """The person said no."""
    NO_ANSWER = "no_answer"
    """Dismissed, timed out, unsupported or failed: nothing was decided."""


@dataclass(frozen=True, slots=True)
class Asked:
    """The tool must return ``input_required`` to the client (modern era, first round)."""

    result: mcp_types.InputRequiredResult


@dataclass(frozen=True, slots=True)
class Answered:
    answer: HumanAnswer
    detail: str
    approver: Principal | None = None


def out_of_band_hint(approval: Approval) -> str:
    return (
        f"approve it out of band: `trading-core approvals approve {approval.approval_id}` "
        "(or reject it with `trading-core approvals reject`)"
    )


def _form_message(approval: Approval) -> str:
    return (
        f"{approval.requested_by} asks to {approval.kind.replace('_', ' ')}: {approval.summary}. "
        f"Approve? (expires {approval.expires_at.isoformat(timespec='seconds')})"
    )


_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approve": {"type": "boolean", "title": "Approve", "description": "Yes to carry it out"}
    },
    "required": ["approve"],
}


class ApprovalForm(BaseModel):
    """The legacy era's form, validated strictly: only a JSON ``true`` approves.

    Lax validation (pydantic's default, and fastmcp's for ``ctx.elicit(..., bool)``) turns the
    strings "yes", "true", "on" and "1" into True: a client that fills the form with text, or a
    model that answers it, must not approve an order that way.
    """

    model_config = ConfigDict(strict=True, extra="forbid")
    approve: bool


NOT_A_BOOLEAN = "the answer was not a JSON boolean (only true approves)"


def _supports_elicitation(ctx: Context) -> bool:
    rc = ctx.request_context
    if rc is None:
        return False
    params = getattr(rc.session, "client_params", None)
    capabilities = getattr(params, "capabilities", None)
    return getattr(capabilities, "elicitation", None) is not None


def _approver(ctx: Context, asked_by: Principal) -> Principal:
    # The person answering the form in the client that ``asked_by`` runs in.
    return Principal(name=f"human:form via {asked_by.name}", kind=PrincipalKind.HUMAN)


async def ask_person(
    ctx: Context, approval: Approval, *, asked_by: Principal, timeout: float
) -> Asked | Answered:
    """Ask the person to approve ``approval``; see the module docstring for the rules."""
    if asked_by.kind is PrincipalKind.AUTONOMOUS:
        # trading-core's own connection has nobody in front of it: a "yes" it sent would be
        # the program approving itself.
        return Answered(HumanAnswer.NO_ANSWER, "an autonomous principal has no person to ask")
    if ctx._is_modern_protocol():
        return _modern_round(ctx, approval, asked_by)
    if not _supports_elicitation(ctx):
        return Answered(HumanAnswer.NO_ANSWER, "this client cannot show approval forms")
    try:
        result = await asyncio.wait_for(ctx.elicit(_form_message(approval), ApprovalForm), timeout)
    except TimeoutError:
        return Answered(HumanAnswer.NO_ANSWER, f"no answer within {timeout:g} s")
    except ValidationError:
        return Answered(HumanAnswer.NO_ANSWER, NOT_A_BOOLEAN)
    except Exception as exc:  # noqa: BLE001 - a client that errs on the form has not said yes
        return Answered(HumanAnswer.NO_ANSWER, f"the client could not show the form ({exc})")
    data = getattr(result, "data", None)
    if result.action == "accept" and isinstance(data, ApprovalForm) and data.approve is True:
        return Answered(HumanAnswer.APPROVED, "approved in the client", _approver(ctx, asked_by))
    if result.action in ("accept", "decline"):
        return Answered(HumanAnswer.DECLINED, "declined in the client", _approver(ctx, asked_by))
    return Answered(HumanAnswer.NO_ANSWER, "the form was dismissed")


def _modern_round(ctx: Context, approval: Approval, asked_by: Principal) -> Asked | Answered:
    expected_state = _STATE_PREFIX + approval.approval_id
    responses = ctx.input_responses
    if not responses:
        if not _supports_elicitation(ctx):
            return Answered(HumanAnswer.NO_ANSWER, "this client cannot show approval forms")
        form = mcp_types.ElicitRequest(
            params=mcp_types.ElicitRequestFormParams(
                message=_form_message(approval), requested_schema=_SCHEMA
            )
        )
        return Asked(
            mcp_types.InputRequiredResult(
                input_requests={FORM_KEY: form}, request_state=expected_state
            )
        )
    if ctx.request_state != expected_state:
        return Answered(HumanAnswer.NO_ANSWER, "the answer does not belong to this approval")
    response = responses.get(FORM_KEY)
    if not isinstance(response, mcp_types.ElicitResult):
        return Answered(HumanAnswer.NO_ANSWER, "no answer to the approval form")
    content = response.content or {}
    answer = content.get("approve")
    if response.action == "accept" and not isinstance(answer, bool):
        return Answered(HumanAnswer.NO_ANSWER, NOT_A_BOOLEAN)
    if response.action == "accept" and answer is True:
        return Answered(HumanAnswer.APPROVED, "approved in the client", _approver(ctx, asked_by))
    if response.action in ("accept", "decline"):
        return Answered(HumanAnswer.DECLINED, "declined in the client", _approver(ctx, asked_by))
    return Answered(HumanAnswer.NO_ANSWER, "the form was dismissed")
