"""The risk server (``mcp-risk``): dry-run checks, limits, trading state, kill switch, analytics.

Tightening (a lower limit, a pause, the kill switch) is open to anyone. Loosening (a higher
limit, resuming) creates an approval that only a person can grant, in the client's form or out of
band. The hard caps never move, and the kill switch is reset only from the command line.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import mcp_types
from fastmcp import Context, FastMCP
from pydantic import Field

from trading_core.domain.approval import ApprovalKind
from trading_core.domain.base import Frozen, PositiveDecimal
from trading_core.domain.order import OrderType, Side, TimeInForce
from trading_core.risk.analytics import ExposureReport, PortfolioVaRResult, exposure_report
from trading_core.risk.kelly import SizeResult
from trading_core.risk.pretrade import RiskDecision
from trading_core.risk.risk_config import LimitInfo
from trading_core.risk.states import StateRecord
from trading_core.risk.stress import SCENARIOS, StressResult
from trading_core.services.desk import OrderTicket
from trading_core.services.limits import ChangeKind
from trading_core.services.loosening import state_fingerprint
from trading_core.services.risk_views import position_size, risk_metrics, stress_test

from .approval_flow import ApprovalView, decide_with_person
from .common import LOOSENS_OR_STOPS, READ_ONLY, REDUCES_RISK, Symbol, new_server
from .errors import tool_errors
from .runtime import Runtime, current_principal

Reason = Annotated[str, Field(min_length=1, max_length=500, description="Why (audited)")]


class LimitsResult(Frozen):
    limits: list[LimitInfo]


class LimitChangeResult(Frozen):
    key: str
    status: Literal["applied", "unchanged", "pending_approval", "executed", "rejected"]
    previous: Decimal
    requested: Decimal
    effective: Decimal
    hard_cap: Decimal
    approval: ApprovalView | None = None
    message: str = ""


class TradingStateResult(Frozen):
    record: StateRecord
    trading_allowed: bool
    reduce_only: bool


class RiskMetrics(Frozen):
    as_of: datetime
    currency: str
    var: PortfolioVaRResult
    exposure: ExposureReport
    drawdown_pct: Decimal
    daily_pnl: Decimal
    daily_pnl_pct: Decimal
    unmeasured_symbols: list[str]
    """Positions without a price history in the feed: left out of VaR (say so, don't guess)."""


def build_risk_server(runtime: Runtime) -> FastMCP[Any]:
    """The risk tools over ``runtime``'s services."""
    mcp = new_server(
        "risk",
        "Risk controls: dry-run order checks, limits, trading state, kill switch, VaR, stress "
        "tests and position sizing. Tightening is open to anyone; loosening needs a person.",
        runtime,
    )

    @mcp.tool(annotations=READ_ONLY)
    async def check_order(
        symbol: Symbol,
        side: Side,
        quantity: PositiveDecimal,
        order_type: OrderType = OrderType.LIMIT,
        limit_price: PositiveDecimal | None = None,
        stop_price: PositiveDecimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        client_order_id: Annotated[str | None, Field(min_length=1, max_length=64)] = None,
        strategy_id: Annotated[str | None, Field(max_length=64)] = None,
        reason: Annotated[str | None, Field(max_length=500)] = None,
    ) -> RiskDecision:
        """Dry-run every guardrail on an order without placing it; lists each violation."""
        with tool_errors():
            app = await runtime.app()
            return app.desk.check(
                OrderTicket(
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
            )

    @mcp.tool(annotations=READ_ONLY)
    async def get_risk_limits() -> LimitsResult:
        """Every risk limit: hard cap, configured value, effective value, unit, what it guards."""
        with tool_errors():
            app = await runtime.app()
            return LimitsResult(limits=app.limits.describe())

    @mcp.tool(annotations=LOOSENS_OR_STOPS)
    async def set_risk_limit(
        key: Annotated[str, Field(min_length=1, max_length=64)],
        value: PositiveDecimal,
        ctx: Context,
    ) -> LimitChangeResult | mcp_types.InputRequiredResult:
        """Change a risk limit: tightening applies at once; loosening needs a person."""
        with tool_errors():
            app = await runtime.app()
            change = app.limits.judge(key, value)
            base = {
                "key": key,
                "previous": change.current,
                "requested": change.proposed,
                "hard_cap": change.hard_cap,
            }
            if change.kind is not ChangeKind.LOOSEN:
                status: Literal["applied", "unchanged"] = (
                    "applied" if change.kind is ChangeKind.TIGHTEN else "unchanged"
                )
                if change.kind is ChangeKind.TIGHTEN:
                    limits = await app.limits.apply(change, by=current_principal().name)
                    app.orders.update_limits(limits)
                effective = Decimal(getattr(app.limits.effective, key))
                return LimitChangeResult(status=status, effective=effective, **base)
            # The same raise asked again finds the first ask; another value is another decision.
            approval = await app.approvals.find_pending(
                ApprovalKind.SET_RISK_LIMIT, key=key, value=str(change.proposed)
            ) or await app.approvals.request(
                ApprovalKind.SET_RISK_LIMIT,
                {"key": key, "value": str(change.proposed)},
                summary=f"raise {key} from {change.current} to {change.proposed}",
                by=current_principal(),
            )
            # No yes within the call: HUMAN_APPROVAL_REQUIRED (the approval stays pending).
            decided = await decide_with_person(ctx, app, approval)
            if isinstance(decided, mcp_types.InputRequiredResult):
                return decided
            effective = Decimal(getattr(app.limits.effective, key))
            return LimitChangeResult(
                status="executed" if decided.status == "executed" else "rejected",
                effective=effective,
                approval=decided,
                message=decided.message,
                **base,
            )

    @mcp.tool(annotations=READ_ONLY)
    async def get_trading_state() -> TradingStateResult:
        """The trading state (ACTIVE, REDUCING, HALTED, KILLED), why, until when, breakers."""
        with tool_errors():
            app = await runtime.app()
            return TradingStateResult(
                record=app.state.record,
                trading_allowed=app.state.order_allowed(reduces_position=False) is None,
                reduce_only=app.state.order_allowed(reduces_position=False) is not None
                and app.state.order_allowed(reduces_position=True) is None,
            )

    @mcp.tool(annotations=REDUCES_RISK)
    async def pause_trading(
        reason: Reason, minutes: Annotated[int, Field(ge=1, le=1440)]
    ) -> TradingStateResult:
        """Pause new orders for some minutes (HALTED); allowed to anyone, it only tightens."""
        with tool_errors():
            app = await runtime.app()
            await app.state.pause(reason=reason, minutes=minutes, by=current_principal().name)
            return await get_trading_state()

    @mcp.tool(annotations=LOOSENS_OR_STOPS)
    async def resume_trading(
        ctx: Context, reason: Annotated[str | None, Field(max_length=500)] = None
    ) -> ApprovalView | mcp_types.InputRequiredResult:
        """Resume trading after a pause or halt. Needs a person's approval (it loosens)."""
        with tool_errors():
            app = await runtime.app()
            said = reason or "resume requested"
            record = app.state.record
            # The approval names the exact state it lifts: if a breaker or a person changes the
            # state meanwhile (even only a floor under a pause), the handler refuses it.
            fingerprint = state_fingerprint(record)
            approval = await app.approvals.find_pending(
                ApprovalKind.RESUME_TRADING, record=fingerprint
            ) or await app.approvals.request(
                ApprovalKind.RESUME_TRADING,
                {"record": fingerprint, "state": str(record.state), "reason": said},
                summary=(
                    f"resume trading from {record.state} (set by {record.set_by}: "
                    f"{record.reason!r}); the assistant says: {said!r}"
                ),
                by=current_principal(),
            )
            return await decide_with_person(ctx, app, approval)

    @mcp.tool(annotations=LOOSENS_OR_STOPS)
    async def activate_kill_switch(reason: Reason) -> TradingStateResult:
        """Stop all trading now: cancel open orders, block new ones; only a person resets it."""
        with tool_errors():
            app = await runtime.app()
            await app.state.activate_kill_switch(reason=reason, by=current_principal().name)
            return await get_trading_state()

    @mcp.tool(annotations=READ_ONLY)
    async def get_risk_metrics(
        confidence: Annotated[float, Field(gt=0.5, lt=1, description="e.g. 0.95 or 0.99")] = 0.95,
        method: Literal["historical", "parametric", "monte_carlo"] = "historical",
    ) -> RiskMetrics:
        """VaR and CVaR of the positions, gross and net exposure, leverage, drawdown, daily P&L."""
        with tool_errors():
            app = await runtime.app()
            var, unmeasured = await risk_metrics(app, confidence=confidence, method=method)
            portfolio = app.account.portfolio
            return RiskMetrics(
                as_of=app.clock.now(),
                currency=app.account.currency,
                var=var,
                exposure=exposure_report(portfolio),
                drawdown_pct=portfolio.drawdown_pct,
                daily_pnl=portfolio.daily_pnl,
                daily_pnl_pct=portfolio.daily_pnl_pct,
                unmeasured_symbols=unmeasured,
            )

    @mcp.tool(annotations=READ_ONLY)
    async def run_stress_test(
        scenario: Annotated[str, Field(description=f"One of: {', '.join(sorted(SCENARIOS))}")],
    ) -> StressResult:
        """P&L of current positions and open orders under a named market shock."""
        with tool_errors():
            app = await runtime.app()
            return stress_test(app, scenario)

    @mcp.tool(annotations=READ_ONLY)
    async def get_position_size(
        symbol: Symbol,
        win_probability: Annotated[float, Field(gt=0, lt=1)],
        win_loss_ratio: Annotated[float, Field(gt=0, le=100)],
        stop_distance: PositiveDecimal | None = None,
    ) -> SizeResult:
        """Size a trade: full and quarter Kelly, then the size after every cap."""
        with tool_errors():
            app = await runtime.app()
            return await position_size(
                app,
                symbol,
                win_probability=win_probability,
                win_loss_ratio=win_loss_ratio,
                stop_distance=stop_distance,
            )

    return mcp
