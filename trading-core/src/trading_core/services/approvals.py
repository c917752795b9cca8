"""The approval queue: requests wait for a person, expire, and are carried out at most once.

Single use across processes: a decision first claims the approval with a compare-and-set in the
store (PENDING -> CLAIMED), so two people (or the CLI and an MCP client) approving at once carry
it out once. Only a human principal can approve; anyone can reject (rejecting removes risk). What
approving does is given by a handler per kind, which re-runs every guardrail at approval time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from trading_core.audit_trail import approval_outcome_row
from trading_core.domain.approval import Approval, ApprovalKind, ApprovalStatus
from trading_core.domain.errors import TradingError
from trading_core.ports.clock import Clock
from trading_core.ports.store import Store
from trading_core.risk.states import HumanApprovalRequired

from .principals import Principal

logger = logging.getLogger(__name__)

ApprovalHandler = Callable[[Approval, Principal], Awaitable[tuple[ApprovalStatus, dict[str, Any]]]]
"""Carries out an approved request; returns EXECUTED or REFUSED (guardrails) and the result."""


class ApprovalNotFoundError(TradingError):
    code = "APPROVAL_NOT_FOUND"


class ApprovalExpiredError(TradingError):
    code = "APPROVAL_EXPIRED"


class ApprovalAlreadyDecidedError(TradingError):
    code = "APPROVAL_ALREADY_DECIDED"


def new_approval_id() -> str:
    return f"apr_{uuid.uuid4().hex[:16]}"


def _failure(exc: TradingError) -> dict[str, Any]:
    """The result of an approval that raised; ``cli_message`` only where the CLI reads it
    differently (``trading-core approvals approve`` shows that one)."""
    result: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.cli_message != exc.message:
        result["cli_message"] = exc.cli_message
    return result


class ApprovalService:
    """Creates, lists, approves and rejects approvals; see the module docstring."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        ttl: timedelta,
        new_id: Callable[[], str] = new_approval_id,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._new_id = new_id
        self._handlers: dict[ApprovalKind, ApprovalHandler] = {}

    def register(self, kind: ApprovalKind, handler: ApprovalHandler) -> None:
        self._handlers[kind] = handler

    async def request(
        self, kind: ApprovalKind, payload: dict[str, Any], *, summary: str, by: Principal
    ) -> Approval:
        now = self._clock.now()
        approval = Approval(
            approval_id=self._new_id(),
            kind=kind,
            payload=payload,
            summary=summary,
            requested_by=by.name,
            created_at=now,
            expires_at=now + self._ttl,
        )
        await self._store.save_approval(approval)
        return approval

    async def get(self, approval_id: str) -> Approval:
        approval = await self._store.get_approval(approval_id)
        if approval is None:
            raise ApprovalNotFoundError(f"no approval {approval_id!r}")
        return await self._expire_if_due(approval)

    async def list(
        self, *, status: Sequence[ApprovalStatus] | None = None, limit: int | None = None
    ) -> list[Approval]:
        """Newest first; pending approvals past their expiry are marked EXPIRED first."""
        for approval in await self._store.list_approvals(status=[ApprovalStatus.PENDING]):
            await self._expire_if_due(approval)
        return await self._store.list_approvals(status=status, limit=limit)

    async def find_pending(self, kind: ApprovalKind, **match: object) -> Approval | None:
        """A pending approval of ``kind`` whose payload has every ``key=value`` of ``match``
        (so asking the same thing twice finds the first ask)."""
        for approval in await self.list(status=[ApprovalStatus.PENDING]):
            if approval.kind is kind and all(
                approval.payload.get(key) == value for key, value in match.items()
            ):
                return approval
        return None

    async def approve(self, approval_id: str, *, by: Principal, reason: str = "") -> Approval:
        """Carry out ``approval_id`` for a person: claim it, re-run its guardrails, record it."""
        if not by.is_human:
            raise HumanApprovalRequired(
                f"{by.name} cannot approve: a person must (trading-core approvals approve "
                f"{approval_id}, or the approval form in an MCP client)"
            )
        approval = await self._pending(approval_id)
        handler = self._handlers.get(approval.kind)
        if handler is None:
            raise TradingError(f"this process cannot carry out {approval.kind} approvals")
        claimed = approval.model_copy(
            update={
                "status": ApprovalStatus.CLAIMED,
                "decided_by": by.name,
                "decided_at": self._clock.now(),
                "decision_reason": reason or None,
            }
        )
        if not await self._store.transition_approval(claimed, expected=ApprovalStatus.PENDING):
            raise ApprovalAlreadyDecidedError(f"approval {approval_id} was decided meanwhile")
        try:
            status, result = await handler(claimed, by)
        except TradingError as exc:
            status, result = ApprovalStatus.FAILED, _failure(exc)
        except Exception:
            # The details (SQL, paths) stay in the server's log, not in a result clients read.
            logger.exception("approval %s failed", approval_id)
            status, result = (
                ApprovalStatus.FAILED,
                {
                    "code": "INTERNAL_ERROR",
                    "message": "carrying out the approval failed; see the server log",
                },
            )
        done = claimed.model_copy(update={"status": status, "result": result})
        await self._store.transition_approval(done, expected=ApprovalStatus.CLAIMED)
        await self._audit(done)
        return done

    async def reject(self, approval_id: str, *, by: Principal, reason: str = "") -> Approval:
        """Anyone may reject: it only removes risk."""
        approval = await self._pending(approval_id)
        rejected = approval.model_copy(
            update={
                "status": ApprovalStatus.REJECTED,
                "decided_by": by.name,
                "decided_at": self._clock.now(),
                "decision_reason": reason or None,
            }
        )
        if not await self._store.transition_approval(rejected, expected=ApprovalStatus.PENDING):
            raise ApprovalAlreadyDecidedError(f"approval {approval_id} was decided meanwhile")
        await self._audit(rejected)
        return rejected

    async def _pending(self, approval_id: str) -> Approval:
        approval = await self.get(approval_id)
        if approval.status is ApprovalStatus.EXPIRED:
            raise ApprovalExpiredError(
                f"approval {approval_id} expired at {approval.expires_at.isoformat()}; ask again"
            )
        if approval.status is not ApprovalStatus.PENDING:
            raise ApprovalAlreadyDecidedError(
                f"approval {approval_id} is already {approval.status} (single use)"
            )
        return approval

    async def _expire_if_due(self, approval: Approval) -> Approval:
        if not approval.is_expired(self._clock.now()):
            return approval
        expired = approval.model_copy(update={"status": ApprovalStatus.EXPIRED})
        if await self._store.transition_approval(expired, expected=ApprovalStatus.PENDING):
            await self._audit(expired)  # once: only the process whose transition won writes it
            return expired
        return await self._store.get_approval(approval.approval_id) or expired

    async def _audit(self, decided: Approval) -> None:
        """The approval's outcome as an ``approval_outcome`` row of audit.decisions."""
        row = approval_outcome_row(decided, at=self._clock.now())
        await self._store.record_decisions([row])
