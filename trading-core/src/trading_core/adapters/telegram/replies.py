"""The read-only answers: /status, /profit, /balance, /daily, /performance, /trades, /why, /regime.

Each reads the services the CLI and the MCP servers read (the account rebuilt from the store's
fills, the trading state, audit.decisions) and returns plain text; money and prices are rounded
by the one policy of :mod:`trading_core.reporting.rounding`. The meanings follow freqtrade's
commands: /trades and /performance are about closed trades (FIFO round trips of the fills).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

from trading_core.domain.approval import ApprovalStatus
from trading_core.domain.base import ZERO
from trading_core.domain.errors import DataError, InstrumentNotFoundError
from trading_core.domain.fill import Fill
from trading_core.domain.order import Order, OrderStatus
from trading_core.domain.signal import Decision
from trading_core.marketdata.regime import classify_regime
from trading_core.portfolio.performance import RoundTrip, round_trips
from trading_core.reporting.rounding import TickOf, round_payload
from trading_core.risk.states import StateRecord
from trading_core.services.container import TradingApp

MAX_MESSAGE: Final = 4000
"""Telegram refuses a text over 4096 characters; longer answers are cut with a note."""
OPEN_STATUSES: Final = [s for s in OrderStatus if not s.is_terminal]
REGIME_LOOKBACK: Final = timedelta(days=1)
"""How far back /regime looks for the orchestrator's last committee reading of a symbol."""
_REGIME_IN_REASON = re.compile(r"^regime (\w+)")


def clip(text: str) -> str:
    if len(text) <= MAX_MESSAGE:
        return text
    return text[: MAX_MESSAGE - 40].rstrip() + "\n... (cut: too long for one message)"


def state_line(record: StateRecord) -> str:
    """The trading state as `trading-core kill-switch status` prints it."""
    until = f" until {record.until:%Y-%m-%d %H:%M} UTC" if record.until else ""
    latch = (
        f"; kill switch latched until {record.kill_latched_until:%Y-%m-%d %H:%M} UTC"
        if record.kill_switch and record.kill_latched_until
        else ""
    )
    return f"{record.state}{until} - {record.reason} (by {record.set_by}){latch}"


def tick_of(app: TradingApp) -> TickOf:
    def tick(symbol: str) -> Decimal | None:
        return app.instruments.get(symbol).tick_size if symbol in app.instruments else None

    return tick


def _shown(app: TradingApp, payload: dict[str, Any]) -> dict[str, Any]:
    rounded: dict[str, Any] = round_payload(
        payload, currency=app.account.currency, tick_of=tick_of(app)
    )
    return rounded


def _money(app: TradingApp, amount: Decimal) -> str:
    return f"{_shown(app, {'pnl': amount})['pnl']} {app.account.currency}"


async def account_fills(app: TradingApp) -> list[Fill]:
    """The fills of the account the app shows (the paper account by default)."""
    fills = await app.store.list_fills(account=app.account.name)
    return [f for f in fills if app.account.counts(f.symbol)]


async def status(app: TradingApp) -> str:
    """freqtrade's /status: the state, then every open position and the working orders."""
    portfolio = app.account.portfolio
    lines = [f"state: {state_line(app.state.record)}", f"mode: {app.settings.mode}"]
    open_positions = [p for p in portfolio.positions.values() if p.quantity != 0]
    for position in sorted(open_positions, key=lambda p: p.symbol):
        mark = portfolio.mark_of(position.symbol)
        shown = _shown(
            app,
            {
                "symbol": position.symbol,
                "average_price": position.average_price,
                "mark": mark,
                "unrealized_pnl": position.unrealized_pnl(mark),
            },
        )
        lines.append(
            f"{position.symbol} {position.quantity} @ {shown['average_price']}, "
            f"mark {shown['mark']}, unrealized {shown['unrealized_pnl']}"
        )
    if not open_positions:
        lines.append("no open positions")
    orders = await app.store.list_orders(status=OPEN_STATUSES, account=app.account.name)
    lines.append(f"open orders: {len(orders)}")
    lines += [f"  {_order_line(o)}" for o in orders[:10]]
    pending = await app.approvals.list(status=[ApprovalStatus.PENDING])
    lines.append(f"approvals waiting: {len(pending)}")
    lines += [f"  {a.approval_id}: {a.summary} (by {a.requested_by})" for a in pending[:10]]
    return clip("\n".join(lines))


def _order_line(order: Order) -> str:
    price = f" limit {order.limit_price}" if order.limit_price else ""
    return (
        f"{order.order_id} {order.side} {order.quantity} {order.symbol}{price} "
        f"{order.status} (filled {order.filled_quantity})"
    )


async def profit(app: TradingApp) -> str:
    """freqtrade's /profit: closed-trade P&L, open P&L, and the account against its start."""
    portfolio = app.account.portfolio
    trips = round_trips(await account_fills(app))
    closed = sum((t.pnl for t in trips), start=ZERO)
    wins = sum(1 for t in trips if t.pnl > 0)
    change = portfolio.equity - app.account.initial_cash
    pct = change / app.account.initial_cash * 100 if app.account.initial_cash else ZERO
    shown = _shown(app, {"change_pct": pct, "drawdown_pct": portfolio.drawdown_pct})
    lines = [
        f"closed trades: {len(trips)} ({wins} won), P&L {_money(app, closed)} (after fees)",
        f"open positions: unrealized {_money(app, portfolio.unrealized_pnl)}",
        f"equity {_money(app, portfolio.equity)} vs start {_money(app, app.account.initial_cash)}"
        f": {_money(app, change)} ({shown['change_pct']} %)",
        f"fees paid: {_money(app, portfolio.commissions)}",
        f"drawdown from high: {shown['drawdown_pct']} %",
    ]
    if trips:
        lines.append(
            f"first trade closed {trips[0].exit_time:%Y-%m-%d %H:%M} UTC, last "
            f"{trips[-1].exit_time:%Y-%m-%d %H:%M} UTC"
        )
    return "\n".join(lines)


async def balance(app: TradingApp) -> str:
    """freqtrade's /balance: cash, each position's value, equity."""
    portfolio = app.account.portfolio
    lines = [f"cash: {_money(app, portfolio.cash)}"]
    for symbol, position in sorted(portfolio.positions.items()):
        if position.quantity == 0:
            continue
        value = position.market_value(portfolio.mark_of(symbol))
        lines.append(f"{symbol}: {position.quantity} = {_money(app, value)}")
    lines.append(f"equity: {_money(app, portfolio.equity)} ({app.account.name})")
    return "\n".join(lines)


async def daily(app: TradingApp, days: int) -> str:
    """freqtrade's /daily N: closed-trade P&L per UTC day, today first."""
    by_day: dict[date, list[RoundTrip]] = defaultdict(list)
    for trip in round_trips(await account_fills(app)):
        by_day[trip.exit_time.date()].append(trip)
    today = app.clock.now().date()
    lines = [f"closed-trade P&L per day (UTC), last {days}:"]
    for back in range(days):
        day = today - timedelta(days=back)
        trips = by_day.get(day, [])
        pnl = sum((t.pnl for t in trips), start=ZERO)
        lines.append(f"{day:%Y-%m-%d}: {_money(app, pnl)} ({len(trips)} trades)")
    lines.append(f"today's equity change: {_money(app, app.account.portfolio.daily_pnl)}")
    return "\n".join(lines)


async def performance(app: TradingApp) -> str:
    """freqtrade's /performance: closed-trade P&L per symbol, best first."""
    pnl: dict[str, Decimal] = defaultdict(lambda: ZERO)
    count: dict[str, int] = defaultdict(int)
    for trip in round_trips(await account_fills(app)):
        pnl[trip.symbol] += trip.pnl
        count[trip.symbol] += 1
    if not pnl:
        return "no closed trades yet"
    ranked = sorted(pnl, key=lambda s: pnl[s], reverse=True)
    return "\n".join(
        f"{i}. {s}: {_money(app, pnl[s])} ({count[s]} trades)" for i, s in enumerate(ranked, 1)
    )


async def trades(app: TradingApp, limit: int) -> str:
    """freqtrade's /trades N: the last N closed trades, newest first."""
    trips = round_trips(await account_fills(app))[-limit:]
    if not trips:
        return "no closed trades yet"
    lines = []
    for trip in reversed(trips):
        shown = _shown(
            app,
            {
                "symbol": trip.symbol,
                "entry_price": trip.entry_price,
                "exit_price": trip.exit_price,
                "pnl": trip.pnl,
            },
        )
        lines.append(
            f"{trip.exit_time:%Y-%m-%d %H:%M} {trip.symbol} {trip.side} {trip.quantity} "
            f"{shown['entry_price']} -> {shown['exit_price']}: {shown['pnl']} "
            f"{app.account.currency}"
        )
    return clip("\n".join(lines))


async def why(app: TradingApp, reference: str) -> str:
    """/why ORDER: every audit.decisions row about the order (by order or client order id)."""
    order = await app.store.get_order(reference) or await app.store.get_order_by_client_id(
        reference
    )
    if order is None:
        return f"no order {reference!r} (give an order id or a client order id)"
    # The decision that sent an order is written at or after its bar closed, which is at most
    # a bar before the order was created; a day back covers every timeframe the system runs.
    rows = await app.store.list_decisions(
        symbol=order.symbol, since=order.created_at - timedelta(days=1)
    )
    mine = [r for r in rows if r.order_id == order.order_id]
    lines = [f"order {order.order_id} ({order.client_order_id}): {_order_line(order)}"]
    if order.reason:
        lines.append(f"order reason: {order.reason}")
    if not mine:
        lines.append("no decision in audit.decisions names this order")
    lines += [_decision_lines(d) for d in mine]
    return clip("\n".join(lines))


def _decision_lines(decision: Decision) -> str:
    codes = [str(v.get("code")) for v in decision.risk_check.get("violations", []) or []]
    risk = f"\n  risk: refused ({', '.join(codes)})" if codes else ""
    run = f", run {decision.run_id}" if decision.run_id else ""
    return (
        f"{decision.timestamp:%Y-%m-%d %H:%M:%S} {decision.decision_type} by "
        f"{decision.principal}{run}\n  why: {decision.reasoning}\n  "
        f"did: {decision.final_action}{risk}"
    )


async def regime(app: TradingApp) -> str:
    """/regime: each symbol's regime now, and the orchestrator's last committee reading.

    The orchestrator does not store the regime by itself; a committee names it at the start of
    its signal's reason ("regime ranging; ..."), which audit.decisions keeps with the decision.
    The reading now is ``classify_regime`` (the orchestrator's classifier) over the feed.
    """
    lines = []
    since = app.clock.now() - REGIME_LOOKBACK
    for symbol in app.feed.symbols():
        try:
            reading = classify_regime(await app.feed.history(symbol))
            now = (
                f"{reading.regime} (confidence {reading.confidence:.2f}, {reading.bars_used} bars)"
            )
        except (DataError, InstrumentNotFoundError) as exc:
            now = f"unknown ({exc.message})"
        line = f"{symbol}: {now}"
        recorded = _last_recorded_regime(await app.store.list_decisions(symbol=symbol, since=since))
        if recorded is not None:
            line += f"; orchestrator at {recorded[1]:%Y-%m-%d %H:%M} UTC: {recorded[0]}"
        lines.append(line)
    return "\n".join(lines) or "no symbols in the feed"


def _last_recorded_regime(rows: list[Decision]) -> tuple[str, Any] | None:
    for row in reversed(rows):
        for signal in row.signals:
            found = _REGIME_IN_REASON.match(str(signal.get("reason", "")))
            if found:
                return found.group(1), row.timestamp
    return None
