"""Requests that wait for a person: an order above its principal's budget, a loosening, a resume.

An approval is single use. It moves PENDING -> CLAIMED (someone is deciding; only one caller can
claim it, enforced by a compare-and-set in the store) -> EXECUTED, REFUSED or FAILED, or PENDING ->
REJECTED / EXPIRED. Nothing is ever approved by default: an approval that nobody decides expires.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from trading_core.domain.base import Frozen, UtcDatetime


class ApprovalKind(StrEnum):
    PLACE_ORDER = "place_order"
    SET_RISK_LIMIT = "set_risk_limit"
    RESUME_TRADING = "resume_trading"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    """A person is deciding right now (held while the guardrails re-run and the order leaves)."""
    EXECUTED = "executed"
    """Approved by a person and carried out (the result says how it went)."""
    REFUSED = "refused"
    """Approved by a person, but the guardrails refused it at approval time."""
    FAILED = "failed"
    """Approved, but carrying it out raised; nothing is retried automatically."""
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self not in (ApprovalStatus.PENDING, ApprovalStatus.CLAIMED)


class Approval(Frozen):
    """One request waiting for (or decided by) a person."""

    approval_id: str = Field(min_length=1, max_length=64)
    kind: ApprovalKind
    payload: dict[str, Any]
    """What to carry out once approved (an order request, a limit change), as JSON."""
    summary: str
    """One line a person can decide on ("buy 0.5 BTC/USD limit 40000 (~20000 USD)")."""
    requested_by: str
    """The principal that asked (an assistant, trading-core)."""
    status: ApprovalStatus = ApprovalStatus.PENDING
    created_at: UtcDatetime
    expires_at: UtcDatetime
    decided_by: str | None = None
    decided_at: UtcDatetime | None = None
    decision_reason: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    """The outcome when carried out (order status, violations)."""

    def is_expired(self, now: datetime) -> bool:
        return self.status is ApprovalStatus.PENDING and now >= self.expires_at
