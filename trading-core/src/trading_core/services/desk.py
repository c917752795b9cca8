"""The trading desk: orders from people, assistants and trading-core, through one gate.

Every request goes through the order service (the only path to a broker), so every guardrail runs;
the desk adds who is asking (approval policy) and writes every outcome, rejections and requests
queued for a person included, to ``audit.decisions`` with the principal.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from trading_core.audit_trail import cancel_row
from trading_core.domain.approval import Approval, ApprovalKind, ApprovalStatus
from trading_core.domain.errors import OrderNotFoundError, TradingError
from trading_core.domain.order import Order, OrderStatus, OrderType, Side, TimeInForce
from trading_core.domain.signal import Decision, DecisionType
from trading_core.execution.order_service import OrderOutcome, OrderService, OutcomeStatus
from trading_core.ports.clock import Clock
from trading_core.ports.store import Store

# The messages moved to the Tools port (shared with the orchestrator); re-exported so imports
# from here keep working.
from trading_core.ports.tools import OrderTicket as OrderTicket
from trading_core.ports.tools import PlaceResult as PlaceResult
from trading_core.ports.tools import PlaceStatus as PlaceStatus
from trading_core.risk.pretrade import OrderRequest, RiskDecision, Violation
from trading_core.settings import ApprovalSettings, Mode

from .approvals import ApprovalService
from .principals import Principal, PrincipalKind, needs_approval


class InvalidOrderError(TradingError):
    code = "INVALID_ORDER"


class NoPositionError(TradingError):
    code = "NO_POSITION"


def new_client_order_id() -> str:
    return f"mcp-{uuid.uuid4().hex[:20]}"


class TradingDesk:
    """place / check / close / cancel for any principal; see the module docstring."""

    def __init__(
        self,
        *,
        orders: OrderService,
        approvals: ApprovalService,
        store: Store,
        clock: Clock,
        mode: Mode,
        policy: ApprovalSettings,
        channel: str,
    ) -> None:
        self._orders = orders
        self._approvals = approvals
        self._store = store
        self._clock = clock
        self._mode = mode
        self._policy = policy
        self._channel = channel
        approvals.register(ApprovalKind.PLACE_ORDER, self._carry_out_approved_order)

    def request_of(self, ticket: OrderTicket) -> OrderRequest:
        """The order request a ticket stands for (a missing client order id is minted)."""
        data = ticket.model_dump()
        data["client_order_id"] = ticket.client_order_id or new_client_order_id()
        try:
            return OrderRequest.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                str(err["msg"]).removeprefix("Value error, ") for err in exc.errors()
            )
            raise InvalidOrderError(problems) from None

    def check(self, ticket: OrderTicket) -> RiskDecision:
        """Dry run of every guardrail and the trading state; nothing is sent or stored."""
        return self._orders.check(self.request_of(ticket))

    async def place(self, ticket: OrderTicket, *, by: Principal, audit: bool = True) -> PlaceResult:
        """Place ``ticket`` for ``by``: every guardrail runs; the policy may queue it for a person.

        ``audit=False`` leaves the ``audit.decisions`` row to the caller: the orchestrator's
        in-process tools record each decision once, with its signal and reasoning (the MCP
        tools never pass it: a server audits every request it serves).
        """
        try:
            if ticket.client_order_id is not None and by.kind is not PrincipalKind.AUTONOMOUS:
                _refuse_reserved(ticket.client_order_id)
            request = self.request_of(ticket)
        except InvalidOrderError as exc:
            return await self._refuse_malformed(ticket, by, exc, audit=audit)
        existing = await self._store.get_order_by_client_id(request.client_order_id)
        if existing is not None:
            return _result(
                request, OrderOutcome(status=_status(existing), order=existing), dup=True
            )
        pending = await self._approvals.find_pending(
            ApprovalKind.PLACE_ORDER, client_order_id=request.client_order_id
        )
        if pending is not None:
            return _pending_result(request, pending, duplicate=True)
        try:
            decision = self._orders.check(request)
        except TradingError:
            decision = None  # place() below refuses it with the stable code and records it
        if (
            decision is not None
            and decision.approved
            and needs_approval(
                by,
                mode=self._mode,
                notional=decision.notional,
                reduces_position=decision.reduces_position,
                policy=self._policy,
            )
        ):
            approval = await self._approvals.request(
                ApprovalKind.PLACE_ORDER,
                request.model_dump(mode="json"),
                summary=_summary(request, decision),
                by=by,
            )
            if audit:
                await self._audit(request, by, DecisionType.APPROVAL, decision, None, approval)
            return _pending_result(request, approval, duplicate=False, decision=decision)
        outcome = await self._orders.place(request)
        if audit:
            await self._audit(request, by, _decision_type(outcome), outcome.risk, outcome, None)
        return _result(request, outcome, dup=outcome.duplicate)

    async def close_position(self, symbol: str, *, by: Principal, quantity: Decimal) -> PlaceResult:
        """Flatten ``symbol`` with a marketable order (risk-reducing: allowed while REDUCING)."""
        if quantity == 0:
            raise NoPositionError(f"no open position in {symbol}")
        ticket = OrderTicket(
            symbol=symbol,
            side=Side.SELL if quantity > 0 else Side.BUY,
            quantity=abs(quantity),
            order_type=OrderType.MARKET,
            time_in_force=TimeInForce.IOC,
            reason=f"close position ({self._channel})",
        )
        return await self.place(ticket, by=by)

    async def cancel(self, order_id: str, *, by: Principal, audit: bool = True) -> Order:
        """Never blocked by risk or throttles. ``audit`` writes a ``cancel`` row naming ``by``
        (the orchestrator's own cancels are part of the decision row it writes itself)."""
        if order_id not in {o.order_id for o in self._orders.open_orders()}:
            stored = await self._store.get_order(order_id)
            if stored is None:
                raise OrderNotFoundError(f"no order {order_id!r}")
            if not stored.status.is_open:
                return stored  # already final: cancelling again changes nothing
            raise OrderNotFoundError(
                f"order {order_id} is not working at this process's broker (placed by another "
                "process); cancel it there"
            )
        cancelled = await self._orders.cancel(order_id)
        if audit:
            row = cancel_row(
                cancelled, by=by.name, why=f"cancel via {self._channel}", at=self._clock.now()
            )
            await self._store.record_decisions([row])
        return cancelled

    async def _refuse_malformed(
        self, ticket: OrderTicket, by: Principal, exc: InvalidOrderError, *, audit: bool
    ) -> PlaceResult:
        """A ticket that is not an order (a limit without a price): refused and audited."""
        said = ticket.reason or "no reason given"
        if audit:
            await self._write_row(
                DecisionType.REJECTED,
                ticket.symbol,
                by,
                risk_check={"code": exc.code, "message": exc.message},
                action=f"{ticket.side} {ticket.quantity} {ticket.symbol} -> rejected ({exc.code})",
                reasoning=f"{by.name} via {self._channel}: {said}",
            )
        return PlaceResult(
            status=PlaceStatus.REJECTED,
            client_order_id=ticket.client_order_id or "",
            symbol=ticket.symbol,
            violations=[Violation(code=exc.code, message=exc.message)],
            message=exc.message,
        )

    async def _carry_out_approved_order(
        self, approval: Approval, approver: Principal
    ) -> tuple[ApprovalStatus, dict[str, Any]]:
        request = OrderRequest.model_validate(approval.payload)
        outcome = await self._orders.place(request)  # every guardrail re-runs here
        requester = Principal.for_token_name(approval.requested_by)
        await self._audit(
            request,
            requester,
            _decision_type(outcome),
            outcome.risk,
            outcome,
            approval,
            approved_by=approver.name,
        )
        result = _result(request, outcome, dup=outcome.duplicate).model_dump(mode="json")
        status = (
            ApprovalStatus.REFUSED
            if outcome.status is OutcomeStatus.REJECTED
            else ApprovalStatus.EXECUTED
        )
        return status, result

    async def _audit(
        self,
        request: OrderRequest,
        by: Principal,
        decision_type: DecisionType,
        risk: RiskDecision | None,
        outcome: OrderOutcome | None,
        approval: Approval | None,
        *,
        approved_by: str | None = None,
    ) -> None:
        order = outcome.order if outcome is not None else None
        if outcome is None and approval is not None:
            action = f"pending_approval {approval.approval_id}: {approval.summary}"
        elif outcome is not None:
            action = f"{request.side} {request.quantity} {request.symbol} -> {outcome.status}"
            if outcome.codes:
                action += f" ({', '.join(outcome.codes)})"
        else:
            action = "none"
        said = request.reason or "no reason given"
        reasoning = f"{by.name} via {self._channel}: {said}"
        if approved_by:
            reasoning += f"; approved by {approved_by} ({approval.approval_id if approval else ''})"
        risk_check: dict[str, Any] = risk.model_dump(mode="json") if risk is not None else {}
        if outcome is not None and outcome.code:
            risk_check = {**risk_check, "code": outcome.code, "message": outcome.message}
        await self._write_row(
            decision_type,
            request.symbol,
            by,
            risk_check=risk_check,
            action=action,
            reasoning=reasoning,
            order_id=order.order_id if order is not None else None,
        )

    async def _write_row(
        self,
        decision_type: DecisionType,
        symbol: str,
        by: Principal,
        *,
        risk_check: dict[str, Any],
        action: str,
        reasoning: str,
        order_id: str | None = None,
    ) -> None:
        """One ``audit.decisions`` row for a request this desk served, with its principal."""
        await self._store.record_decisions(
            [
                Decision(
                    timestamp=self._clock.now(),
                    decision_type=decision_type,
                    symbol=symbol,
                    risk_check=risk_check,
                    final_action=action,
                    reasoning=reasoning,
                    order_id=order_id,
                    principal=by.name,
                )
            ]
        )


_RESERVED_CLIENT_IDS = re.compile(r"^(kill-flatten-|[0-9a-f]{12}-\d+$)")
"""Client order ids trading-core mints (kill-switch flattens, the orchestrator's orders)."""


def _refuse_reserved(client_order_id: str) -> None:
    """Nobody but trading-core may use its ids: a look-alike placed first would make its real
    order a "duplicate" that is never sent (idempotency is by client order id)."""
    if _RESERVED_CLIENT_IDS.match(client_order_id):
        raise InvalidOrderError(
            f"client_order_id {client_order_id!r} has a form reserved for trading-core's own "
            "orders; choose another",
            code="CLIENT_ORDER_ID_RESERVED",
        )


def _decision_type(outcome: OrderOutcome) -> DecisionType:
    if outcome.status is OutcomeStatus.REJECTED:
        return DecisionType.REJECTED
    if outcome.risk is not None and outcome.risk.reduces_position:
        return DecisionType.EXIT
    return DecisionType.ENTRY


def _status(order: Order) -> OutcomeStatus:
    return {
        OrderStatus.FILLED: OutcomeStatus.FILLED,
        OrderStatus.REJECTED: OutcomeStatus.REJECTED,
        OrderStatus.UNKNOWN: OutcomeStatus.UNKNOWN,
    }.get(order.status, OutcomeStatus.ACCEPTED)


def _summary(request: OrderRequest, decision: RiskDecision) -> str:
    price = f"limit {request.limit_price}" if request.limit_price else str(request.order_type)
    return (
        f"{request.side} {request.quantity} {request.symbol} {price} "
        f"(~{decision.notional.quantize(Decimal('0.01'))} notional)"
    )


def _result(request: OrderRequest, outcome: OrderOutcome, *, dup: bool) -> PlaceResult:
    risk = outcome.risk
    violations = list(risk.violations) if risk is not None else []
    if outcome.code and outcome.code not in {v.code for v in violations}:
        violations.insert(0, Violation(code=outcome.code, message=outcome.message))
    return PlaceResult(
        status=PlaceStatus(outcome.status.value),
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        order=outcome.order,
        fills=list(outcome.fills),
        violations=violations,
        duplicate=dup,
        notional=risk.notional if risk is not None else None,
        reference_price=risk.reference_price if risk is not None else None,
        message=outcome.message,
    )


def _pending_result(
    request: OrderRequest,
    approval: Approval,
    *,
    duplicate: bool,
    decision: RiskDecision | None = None,
) -> PlaceResult:
    return PlaceResult(
        status=PlaceStatus.PENDING_APPROVAL,
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        approval_id=approval.approval_id,
        approval_expires_at=approval.expires_at.isoformat(),
        duplicate=duplicate,
        notional=decision.notional if decision is not None else None,
        reference_price=decision.reference_price if decision is not None else None,
        message=(
            f"waiting for a person: approve with approve_order({approval.approval_id!r}) in a "
            f"client that shows forms, or `trading-core approvals approve {approval.approval_id}`"
        ),
    )
