"""What approving a loosening does: resume trading, or raise a limit (never past its hard cap)."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from trading_core.domain.approval import Approval, ApprovalKind, ApprovalStatus
from trading_core.execution.order_service import OrderService
from trading_core.execution.trading_state import TradingStateService
from trading_core.risk.states import StateRecord

from .approvals import ApprovalService
from .limits import RiskLimitsService
from .principals import Principal


def state_fingerprint(record: StateRecord) -> str:
    """A short digest of everything in a trading-state record: a resume approved for one
    record must not lift another (a breaker's floor added under a pause, a new halt)."""
    canonical = json.dumps(record.to_json_dict(), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def register_loosening_handlers(
    approvals: ApprovalService,
    *,
    state: TradingStateService,
    limits: RiskLimitsService,
    orders: OrderService,
) -> None:
    """Teach ``approvals`` to carry out RESUME_TRADING and SET_RISK_LIMIT for a person."""

    async def resume(
        approval: Approval, person: Principal
    ) -> tuple[ApprovalStatus, dict[str, Any]]:
        current = state.record
        if approval.payload.get("record") != state_fingerprint(current):
            return ApprovalStatus.REFUSED, {
                "code": "STATE_CHANGED",
                "message": f"the state changed since the request (now {current.state}: "
                f"{current.reason}); ask again",
            }
        reason = str(approval.payload.get("reason") or "approved resume")
        record = await state.resume(by=person.name, human=person.is_human, reason=reason)
        return ApprovalStatus.EXECUTED, {"state": str(record.state), "reason": record.reason}

    async def set_limit(
        approval: Approval, person: Principal
    ) -> tuple[ApprovalStatus, dict[str, Any]]:
        # Judged again now: the cap check re-runs, and the limit may have moved meanwhile.
        change = limits.judge(str(approval.payload["key"]), Decimal(str(approval.payload["value"])))
        effective = await limits.apply(change, by=person.name)
        orders.update_limits(effective)
        return ApprovalStatus.EXECUTED, {
            "key": change.key,
            "previous": str(change.current),
            "effective": str(getattr(effective, change.key)),
        }

    approvals.register(ApprovalKind.RESUME_TRADING, resume)
    approvals.register(ApprovalKind.SET_RISK_LIMIT, set_limit)
