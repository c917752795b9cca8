"""The portfolio server (``mcp-portfolio``): positions, P&L, performance, fills and decisions.

All tools are read-only. The account is the database's: initial cash plus every recorded fill,
marked to the feed, so the server and ``trading-core run`` on one database agree.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastmcp import FastMCP
from pydantic import Field

from trading_core.domain.base import Frozen
from trading_core.domain.errors import DataError
from trading_core.domain.fill import Fill
from trading_core.domain.market import Timeframe
from trading_core.domain.signal import Decision
from trading_core.portfolio.equity_curve import EquityPoint, equity_curve
from trading_core.portfolio.performance import (
    PerformanceReport,
    performance,
    periods_per_year,
    round_trips,
)
from trading_core.services.container import TradingApp

from .common import READ_ONLY, Limit, Since, Symbol, new_server
from .errors import tool_errors
from .runtime import Runtime

MAX_CURVE_POINTS = 5_000


class PositionView(Frozen):
    symbol: str
    quantity: Decimal
    average_price: Decimal
    mark: Decimal
    market_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    commissions: Decimal


class PositionsResult(Frozen):
    currency: str
    as_of: datetime
    positions: list[PositionView]


class PortfolioSummary(Frozen):
    currency: str
    as_of: datetime
    equity: Decimal
    cash: Decimal
    positions_value: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal
    open_positions: int
    open_orders: int
    daily_pnl: Decimal
    daily_pnl_pct: Decimal
    drawdown_pct: Decimal
    """Percent below the high-water mark, marked to market."""
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    trading_state: str


class TradesResult(Frozen):
    fills: list[Fill]


class EquityCurveResult(Frozen):
    currency: str
    resolution: str
    points: list[EquityPoint]


class PerformanceResult(Frozen):
    currency: str
    resolution: str
    report: PerformanceReport


class DecisionsResult(Frozen):
    decisions: list[Decision]


async def _curve(app: TradingApp, since: datetime | None, resolution: str) -> list[EquityPoint]:
    step = Timeframe(resolution)
    histories = {s: await app.feed.history(s) for s in app.feed.symbols()}
    first_bars = [bars[0].timestamp for bars in histories.values() if bars]
    start = since or (min(first_bars) if first_bars else None)
    if start is not None:
        span = (app.clock.now() - start) / step.duration
        if span > MAX_CURVE_POINTS:
            raise DataError(
                f"{int(span)} points at {resolution} since {start.isoformat()}; ask for a later "
                f"since or a coarser resolution (at most {MAX_CURVE_POINTS} points)",
                code="TOO_MANY_POINTS",
            )
    fills = [
        f
        for f in await app.store.list_fills(account=app.account.name)
        if app.account.counts(f.symbol)
    ]
    return equity_curve(
        fills, histories, initial_cash=app.account.initial_cash, start=start, resolution=step
    )


def build_portfolio_server(runtime: Runtime) -> FastMCP[Any]:
    """The portfolio tools over ``runtime``'s services."""
    mcp = new_server(
        "portfolio",
        "Read-only view of the account: positions, equity and P&L, performance statistics, "
        "fills, the equity curve and the audit trail of decisions.",
        runtime,
    )

    @mcp.tool(annotations=READ_ONLY)
    async def get_positions() -> PositionsResult:
        """Open positions: quantity, average entry, mark, unrealized and realized P&L."""
        with tool_errors():
            app = await runtime.app()
            portfolio = app.account.portfolio
            views = []
            for symbol, position in sorted(portfolio.positions.items()):
                if position.quantity == 0:
                    continue
                mark = portfolio.mark_of(symbol)
                views.append(
                    PositionView(
                        symbol=symbol,
                        quantity=position.quantity,
                        average_price=position.average_price,
                        mark=mark,
                        market_value=position.market_value(mark),
                        unrealized_pnl=position.unrealized_pnl(mark),
                        realized_pnl=position.realized_pnl,
                        commissions=position.commissions,
                    )
                )
            return PositionsResult(
                currency=app.account.currency, as_of=app.clock.now(), positions=views
            )

    @mcp.tool(annotations=READ_ONLY)
    async def get_portfolio_summary() -> PortfolioSummary:
        """Equity, cash, exposure, today's P&L and drawdown from the high-water mark."""
        with tool_errors():
            app = await runtime.app()
            p = app.account.portfolio
            return PortfolioSummary(
                currency=app.account.currency,
                as_of=app.clock.now(),
                equity=p.equity,
                cash=p.cash,
                positions_value=p.positions_value,
                gross_exposure=p.gross_exposure,
                net_exposure=p.net_exposure,
                open_positions=sum(1 for pos in p.positions.values() if pos.quantity != 0),
                open_orders=len(app.orders.open_orders()),
                daily_pnl=p.daily_pnl,
                daily_pnl_pct=p.daily_pnl_pct,
                drawdown_pct=p.drawdown_pct,
                realized_pnl=p.realized_pnl,
                unrealized_pnl=p.unrealized_pnl,
                trading_state=str(app.state.state),
            )

    @mcp.tool(annotations=READ_ONLY)
    async def get_performance(
        since: Since = None, resolution: Literal["1h", "4h", "1d"] = "1h"
    ) -> PerformanceResult:
        """Sharpe, Sortino, Calmar, max drawdown, win rate, profit factor and trade count."""
        with tool_errors():
            app = await runtime.app()
            points = await _curve(app, since, resolution)
            fills = [
                f
                for f in await app.store.list_fills(account=app.account.name)
                if app.account.counts(f.symbol)
            ]
            # Trips are matched over the whole history (a trip opened before ``since`` and
            # closed after it is one trade), then kept when they closed in the window.
            trips = [t for t in round_trips(fills) if since is None or t.exit_time >= since]
            report = performance(
                [(p.timestamp, p.equity) for p in points],
                [t.pnl for t in trips],
                periods_per_year=periods_per_year(Timeframe(resolution).duration.total_seconds()),
                exposure=[p.exposed for p in points],
            )
            return PerformanceResult(
                currency=app.account.currency, resolution=resolution, report=report
            )

    @mcp.tool(annotations=READ_ONLY)
    async def get_trade_history(
        symbol: Symbol | None = None, since: Since = None, limit: Limit = 100
    ) -> TradesResult:
        """Executed fills, oldest first: price, quantity, side, commission, time."""
        with tool_errors():
            app = await runtime.app()
            fills = await app.store.list_fills(symbol=symbol, since=since, account=app.account.name)
            return TradesResult(fills=fills[-limit:])

    @mcp.tool(annotations=READ_ONLY)
    async def get_equity_curve(
        since: Since = None, resolution: Literal["1m", "5m", "15m", "1h", "4h", "1d"] = "1h"
    ) -> EquityCurveResult:
        """The account's equity, cash and drawdown over time."""
        with tool_errors():
            app = await runtime.app()
            return EquityCurveResult(
                currency=app.account.currency,
                resolution=resolution,
                points=await _curve(app, since, resolution),
            )

    @mcp.tool(annotations=READ_ONLY)
    async def get_decisions(
        symbol: Symbol | None = None,
        since: Since = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 50,
    ) -> DecisionsResult:
        """The audit trail: every decision with its signals, risk check, action and reasoning."""
        with tool_errors():
            app = await runtime.app()
            decisions = await app.store.list_decisions(symbol=symbol, since=since)
            return DecisionsResult(decisions=decisions[-limit:])

    @mcp.resource("portfolio://summary", mime_type="application/json")
    async def summary_resource() -> str:
        """The portfolio summary (equity, cash, exposure, P&L, drawdown) as JSON."""
        return (await get_portfolio_summary()).model_dump_json()

    @mcp.prompt
    def daily_briefing() -> str:
        """A briefing on the account: positions, risk, state, approvals waiting."""
        return (
            "Give me today's trading briefing. Call get_portfolio_summary, get_positions, "
            "get_risk_metrics, get_trading_state and list_approvals (status pending). Report "
            "equity and today's P&L, the largest positions and their unrealized P&L, VaR and "
            "drawdown against the limits from get_risk_limits, whether trading is ACTIVE, and "
            "every approval waiting for me with its expiry. Do not place or approve anything."
        )

    return mcp
