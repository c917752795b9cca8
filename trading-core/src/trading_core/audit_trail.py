"""``audit.decisions`` rows for the decisions made outside the bar pipeline.

The pipeline writes one row per bar and symbol (entry, exit, hold, skip, rejected, approval);
the trading desk one per request it serves. What a person, a breaker or the kill switch decides
between bars lands here too, so "every decision" holds:

- ``state_change``: a trading-state transition of the shared account (pause, halt, reducing, kill
  switch, resume, reset, a breaker trip, a timed pause ending), principal = who set it;
- ``limit_change``: a run-time risk-limit change, principal = who applied it;
- ``cancel``: a cancel a principal asked for (a tool, the kill switch, a stopped run);
- ``flatten``: one kill-switch flatten order, principal = who fired the kill switch;
- ``approval_outcome``: an approval approved, refused, failed, rejected or expired,
  principal = who decided (``system`` when it expired).

Each builder is pure: the caller writes the row with ``Store.record_decisions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from trading_core.domain.approval import Approval, ApprovalStatus
from trading_core.domain.order import Order
from trading_core.domain.signal import Decision, DecisionType
from trading_core.domain.state import SystemEvent
from trading_core.risk.states import SYSTEM, StateRecord

ACCOUNT_WIDE: Final = "*"
"""The symbol of a row that concerns the whole account (as reconciliation rows use)."""


def state_change_row(
    old: StateRecord, new: StateRecord, events: Sequence[SystemEvent], *, at: datetime
) -> Decision:
    """The transition ``old`` -> ``new`` and the events it caused, decided by ``new.set_by``."""
    said = "; ".join(event.message for event in events) or new.reason
    return Decision(
        timestamp=at,
        decision_type=DecisionType.STATE_CHANGE,
        symbol=ACCOUNT_WIDE,
        risk_check={
            "from_state": str(old.state),
            "to_state": str(new.state),
            "until": _iso(new.until),
            "kill_latched_until": _iso(new.kill_latched_until),
            "reducing_floor": new.reducing_floor.model_dump(mode="json")
            if new.reducing_floor is not None
            else None,
            "events": [event.event_type for event in events],
        },
        final_action=f"{old.state} -> {new.state}",
        reasoning=said,
        principal=new.set_by or SYSTEM,
    )


def limit_change_row(
    *,
    key: str,
    current: Decimal,
    proposed: Decimal,
    hard_cap: Decimal,
    kind: str,
    by: str,
    at: datetime,
) -> Decision:
    """A risk limit set from ``current`` to ``proposed`` (``kind``: tighten or loosen)."""
    return Decision(
        timestamp=at,
        decision_type=DecisionType.LIMIT_CHANGE,
        symbol=ACCOUNT_WIDE,
        risk_check={
            "key": key,
            "current": str(current),
            "proposed": str(proposed),
            "hard_cap": str(hard_cap),
            "kind": kind,
        },
        final_action=f"{key} {current} -> {proposed} ({kind})",
        reasoning=f"{by} set {key} to {proposed} (hard cap {hard_cap})",
        principal=by,
    )


def cancel_row(order: Order, *, by: str, why: str, at: datetime) -> Decision:
    """``by`` cancelled ``order``; ``order`` is what the venue answered (its status now)."""
    return Decision(
        timestamp=at,
        decision_type=DecisionType.CANCEL,
        symbol=order.symbol,
        risk_check={"client_order_id": order.client_order_id, "status": str(order.status)},
        final_action=f"cancel {order.side} {order.quantity} {order.symbol} -> {order.status}",
        reasoning=f"{by}: {why}",
        order_id=order.order_id,
        principal=by,
    )


def flatten_row(
    *,
    symbol: str,
    action: str,
    kill_reason: str,
    codes: Sequence[str],
    message: str,
    order_id: str | None,
    by: str,
    at: datetime,
) -> Decision:
    """One kill-switch flatten order and what became of it, decided by who fired the switch."""
    risk_check: dict[str, Any] = {"codes": list(codes)}
    if message:
        risk_check["message"] = message
    return Decision(
        timestamp=at,
        decision_type=DecisionType.FLATTEN,
        symbol=symbol,
        risk_check=risk_check,
        final_action=action,
        reasoning=f"kill switch flatten: {kill_reason}",
        order_id=order_id,
        principal=by,
    )


def approval_outcome_row(approval: Approval, *, at: datetime) -> Decision:
    """How ``approval`` ended, decided by ``approval.decided_by`` (``system`` if it expired)."""
    by = approval.decided_by or SYSTEM
    result = approval.result
    reasoning = f"{approval.summary} (asked by {approval.requested_by})"
    if approval.decision_reason:
        reasoning += f"; {by}: {approval.decision_reason}"
    if approval.status is ApprovalStatus.EXPIRED:
        reasoning += f"; nobody decided by {approval.expires_at.isoformat()}"
    if isinstance(result.get("message"), str):
        reasoning += f"; {result['message']}"
    order = result.get("order")
    order_id = order.get("order_id") if isinstance(order, dict) else None
    return Decision(
        timestamp=at,
        decision_type=DecisionType.APPROVAL_OUTCOME,
        symbol=str(approval.payload.get("symbol") or ACCOUNT_WIDE),
        risk_check={
            "approval_id": approval.approval_id,
            "kind": str(approval.kind),
            "status": str(approval.status),
            "result": result,
        },
        final_action=f"approval {approval.approval_id} {approval.status}",
        reasoning=reasoning,
        order_id=order_id if isinstance(order_id, str) else None,
        principal=by,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
