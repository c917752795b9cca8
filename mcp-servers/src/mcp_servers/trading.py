"""The trading server (``mcp-trading``): orders and the approval queue.

Every order goes through the order service, where every guardrail runs; an assistant's order
above the approval policy waits for a person (``pending_approval``). Cancels are never blocked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import mcp_types
from fastmcp import Context, FastMCP
from pydantic import Field

from trading_core.domain.approval import ApprovalStatus
from trading_core.domain.base import Frozen, PositiveDecimal
from trading_core.domain.errors import OrderNotFoundError
from trading_core.domain.order import Order, OrderStatus, OrderType, Side, TimeInForce
from trading_core.services.approvals import ApprovalExpiredError
from trading_core.services.desk import OrderTicket, PlaceResult

from .approval_flow import ApprovalView, decide_with_person
from .common import CREATES_RISK, READ_ONLY, REDUCES_RISK, Limit, Symbol, new_server
from .errors import tool_errors
from .runtime import Runtime, current_principal

ClientOrderId = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=64,
        description="Your id for this order; the same id again returns the first result",
    ),
]


class ApprovalList(Frozen):
    approvals: list[ApprovalView]


class OrderList(Frozen):
    orders: list[Order]


class CancelResult(Frozen):
    cancelled: list[Order]


def build_trading_server(runtime: Runtime) -> FastMCP[Any]:
    """The trading tools over ``runtime``'s services."""
    mcp = new_server(
        "trading",
        "Place, cancel and inspect orders. Every order is checked by hard-coded guardrails; "
        "large orders from an assistant wait for a person's approval.",
        runtime,
    )

    @mcp.tool(annotations=CREATES_RISK)
    async def place_order(
        symbol: Symbol,
        side: Side,
        quantity: PositiveDecimal,
        order_type: OrderType = OrderType.LIMIT,
        limit_price: PositiveDecimal | None = None,
        stop_price: PositiveDecimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        client_order_id: ClientOrderId = None,
        strategy_id: Annotated[str | None, Field(max_length=64)] = None,
        reason: Annotated[str | None, Field(max_length=500, description="Why (audited)")] = None,
    ) -> PlaceResult:
        """Place an order after every risk check; may return pending_approval for a person."""
        with tool_errors():
            app = await runtime.app()
            ticket = OrderTicket(
                symbol=symbol,
                side=side,
                quantity=quantity,
                order_type=order_type,
                limit_price=limit_price,
                stop_price=stop_price,
                time_in_force=time_in_force,
                client_order_id=client_order_id,
                strategy_id=strategy_id,
                reason=reason,
            )
            return await app.desk.place(ticket, by=current_principal())

    @mcp.tool(annotations=READ_ONLY)
    async def list_approvals(
        status: Literal["pending", "executed", "refused", "failed", "rejected", "expired"]
        | None = None,
        limit: Limit = 50,
    ) -> ApprovalList:
        """List the approval queue (orders and limit changes waiting for a person), newest first."""
        with tool_errors():
            app = await runtime.app()
            wanted = [ApprovalStatus(status)] if status else None
            approvals = await app.approvals.list(status=wanted, limit=limit)
            return ApprovalList(approvals=[ApprovalView.of(a) for a in approvals])

    @mcp.tool(annotations=CREATES_RISK)
    async def approve_order(
        approval_id: Annotated[str, Field(min_length=1, max_length=64)], ctx: Context
    ) -> ApprovalView | mcp_types.InputRequiredResult:
        """Ask the person to approve a pending request; guardrails re-run. Needs a human."""
        with tool_errors():
            app = await runtime.app()
            approval = await app.approvals.get(approval_id)
            if approval.status is ApprovalStatus.EXPIRED:
                raise ApprovalExpiredError(
                    f"approval {approval_id} expired at {approval.expires_at.isoformat()}; "
                    "place the order again"
                )
            if approval.status is not ApprovalStatus.PENDING:
                return ApprovalView.of(approval, f"already {approval.status} (single use)")
            return await decide_with_person(ctx, app, approval)

    @mcp.tool(annotations=REDUCES_RISK)
    async def reject_order(
        approval_id: Annotated[str, Field(min_length=1, max_length=64)],
        reason: Annotated[str | None, Field(max_length=500)] = None,
    ) -> ApprovalView:
        """Reject a pending approval; nothing is placed. No person needed (it removes risk)."""
        with tool_errors():
            app = await runtime.app()
            rejected = await app.approvals.reject(
                approval_id, by=current_principal(), reason=reason or ""
            )
            return ApprovalView.of(rejected)

    @mcp.tool(annotations=REDUCES_RISK)
    async def cancel_order(order_id: Annotated[str, Field(min_length=1, max_length=64)]) -> Order:
        """Cancel one working order. Never blocked by risk checks or throttles."""
        with tool_errors():
            app = await runtime.app()
            return await app.desk.cancel(order_id, by=current_principal())

    @mcp.tool(annotations=REDUCES_RISK)
    async def cancel_all_orders(symbol: Symbol | None = None) -> CancelResult:
        """Cancel every working order (of one symbol if given). Never blocked."""
        with tool_errors():
            app = await runtime.app()
            cancelled = await app.orders.cancel_all(
                symbol, by=current_principal().name, why="cancel_all_orders via mcp"
            )
            return CancelResult(cancelled=cancelled)

    @mcp.tool(annotations=REDUCES_RISK)
    async def close_position(symbol: Symbol) -> PlaceResult:
        """Close a whole position with a marketable order; allowed while REDUCING."""
        with tool_errors():
            app = await runtime.app()
            app.instruments.get(symbol)
            quantity = app.account.portfolio.position(symbol).quantity
            return await app.desk.close_position(symbol, by=current_principal(), quantity=quantity)

    @mcp.tool(annotations=READ_ONLY)
    async def get_order(order_id: Annotated[str, Field(min_length=1, max_length=64)]) -> Order:
        """Get one order by its id (as returned by place_order)."""
        with tool_errors():
            app = await runtime.app()
            order = await app.store.get_order(order_id)
            if order is None:
                raise OrderNotFoundError(f"no order {order_id!r}")
            return order

    @mcp.tool(annotations=READ_ONLY)
    async def list_orders(
        status: OrderStatus | None = None,
        symbol: Symbol | None = None,
        limit: Limit = 50,
        open_only: Annotated[
            bool, Field(description="Only working orders (pending, sent, partial, unknown)")
        ] = False,
    ) -> OrderList:
        """List orders, newest first, optionally by status and symbol."""
        with tool_errors():
            app = await runtime.app()
            wanted = [status] if status else None
            if open_only:
                wanted = [s for s in (wanted or list(OrderStatus)) if s.is_open]
                if not wanted:  # a final status asked for together with open_only
                    return OrderList(orders=[])
            orders = await app.store.list_orders(
                status=wanted, symbol=symbol, limit=limit, account=app.account.name
            )
            return OrderList(orders=orders)

    return mcp
