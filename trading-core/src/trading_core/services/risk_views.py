"""Risk analytics on the live account: VaR from the feed's history, stress, Kelly sizing."""

from __future__ import annotations

import itertools
from decimal import Decimal

from trading_core.domain.base import ZERO
from trading_core.domain.order import Side
from trading_core.risk.analytics import PortfolioVaRResult, VaRMethod, portfolio_var
from trading_core.risk.kelly import SizeResult
from trading_core.risk.kelly import position_size as kelly_position_size
from trading_core.risk.stress import StressResult, run_stress_test

from .container import TradingApp

VAR_WINDOW_BARS = 500
"""Returns used for VaR: the most recent bars of the feed's base timeframe, aligned by time."""


async def risk_metrics(
    app: TradingApp, *, confidence: float, method: VaRMethod
) -> tuple[PortfolioVaRResult, list[str]]:
    """Money VaR/CVaR of the positions; symbols without a price history are listed apart."""
    portfolio = app.account.portfolio
    values = {
        symbol: position.quantity * portfolio.mark_of(symbol)
        for symbol, position in portfolio.positions.items()
        if position.quantity != 0
    }
    served = set(app.feed.symbols())
    unmeasured = sorted(s for s in values if s not in served)
    measured = {s: v for s, v in values.items() if s in served}
    returns: dict[str, list[float]] = {}
    closes: dict[str, dict[object, float]] = {}
    for symbol in measured:
        bars = (await app.feed.history(symbol))[-(VAR_WINDOW_BARS + 1) :]
        closes[symbol] = {bar.timestamp: float(bar.close) for bar in bars}
    if closes:
        # Align on the timestamps every series has, so period t means the same moment for all.
        common = sorted(set.intersection(*(set(c) for c in closes.values())))  # type: ignore[type-var]
        for symbol, by_time in closes.items():
            series = [by_time[t] for t in common]
            returns[symbol] = [b / a - 1 for a, b in itertools.pairwise(series)]
    result = portfolio_var(
        measured, returns, confidence=confidence, method=method, seed=app.settings.seed
    )
    return result, unmeasured


def stress_test(app: TradingApp, scenario: str) -> StressResult:
    """``scenario`` applied to the positions and the open orders at their current marks."""
    portfolio = app.account.portfolio
    positions = {s: p.quantity for s, p in portfolio.positions.items() if p.quantity != 0}
    open_orders = app.orders.open_orders()
    symbols = set(positions) | {o.symbol for o in open_orders}
    return run_stress_test(
        scenario,
        positions=positions,
        marks={s: portfolio.mark_of(s) for s in symbols},
        asset_classes={s: app.instruments.get(s).asset_class for s in symbols},
        open_orders=open_orders,
        equity=portfolio.equity,
    )


async def position_size(
    app: TradingApp,
    symbol: str,
    *,
    win_probability: float,
    win_loss_ratio: float,
    stop_distance: Decimal | None,
) -> SizeResult:
    """Quarter-Kelly size of a long entry in ``symbol``, clipped by every effective cap."""
    instrument = app.instruments.get(symbol)
    quote = await app.feed.latest_quote(symbol)
    limits = app.limits.effective
    held = app.account.portfolio.position(symbol).quantity
    open_buys = sum(
        (o.remaining_quantity for o in app.orders.open_orders(symbol) if o.side is Side.BUY),
        start=ZERO,
    )
    return kelly_position_size(
        equity=app.account.portfolio.equity,
        price=quote.ask,
        win_probability=Decimal(str(win_probability)),
        win_loss_ratio=Decimal(str(win_loss_ratio)),
        lot_size=instrument.lot_size,
        stop_distance=stop_distance,
        max_order_notional_pct=limits.max_order_notional_pct,
        max_position_pct=limits.max_position_pct,
        existing_quantity=max(held, ZERO) + open_buys,
        min_quantity=instrument.min_quantity,
        max_quantity=instrument.max_quantity,
    )
