"""Rebuild an account's equity over time from its fills and bar closes (what the store holds).

The curve is sampled on a grid of ``resolution`` steps aligned to UTC: multiples of the step
since the Unix epoch up to a day, Mondays 00:00 for weeks, the first of the month 00:00 for months.
The point at time T shows the account after every fill stamped at or before T, each position
valued at its latest price known at T: the close of its last bar that is final by T
(``close_time <= T``) or the price of its last fill, whichever is later (a fill at the very moment a
bar closes wins: it happened at or after that close). A symbol with no bars is valued at its last
fill price. Fill accounting is the domain's own (``PortfolioLedger`` over ``Portfolio``), so the
curve ends where a ledger fed the same fills and marks ends.

Without ``start`` the first point is the grid step before the earliest fill or bar close, so the
curve opens at ``initial_cash``; the last point is the first step at or after the latest event.
With ``start``, only points at or after it are returned, but fills before it still count and the
high-water mark remembers earlier points: ``drawdown_pct`` is the account's drawdown, not one
reset at ``start``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from trading_core.domain.base import ZERO, Frozen, Money, NonNegativeDecimal, UtcDatetime
from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar, Timeframe
from trading_core.domain.portfolio import Portfolio
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.portfolio.performance import InvalidPerformanceInputError

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_MONDAY: Final = datetime(1970, 1, 5, tzinfo=UTC)


class EquityPoint(Frozen):
    """The account at one grid time, valued at the latest known prices.

    ``drawdown_pct`` follows ``Portfolio.drawdown_pct``: percent below the highest equity of this
    and all earlier grid points (0 at a new high, 12.5 for 12.5 % below it; 0 while that high is
    not positive). ``exposed`` says a non-zero position was held, the flag
    :func:`trading_core.portfolio.performance.performance` takes as ``exposure``.
    """

    timestamp: UtcDatetime
    equity: Money
    cash: Money
    positions_value: Money
    drawdown_pct: NonNegativeDecimal
    exposed: bool


def equity_curve(
    fills: Sequence[Fill],
    prices: Mapping[str, Sequence[Bar]],
    *,
    initial_cash: Decimal,
    start: datetime | None = None,
    resolution: Timeframe,
) -> list[EquityPoint]:
    """Equity of an account that began with ``initial_cash``, on the ``resolution`` grid.

    ``prices`` maps each symbol to its bars (any order, any timeframe). Returns an empty list when
    there is nothing to show (no fills, no bars, no ``start``); with ``start`` but no events, one
    point at ``initial_cash``. Raises :class:`InvalidPerformanceInputError` for a naive ``start``
    or bars filed under another symbol.
    """
    if start is not None and start.tzinfo is None:
        raise InvalidPerformanceInputError("start must be timezone-aware")
    ordered_fills = sorted(fills, key=lambda f: f.timestamp)
    bars = _bars_by_symbol(prices)
    grid = _grid(_event_times(ordered_fills, bars), start, resolution)
    replay = _Replay(Portfolio.start(initial_cash), ordered_fills, bars)
    points: list[EquityPoint] = []
    high: Decimal | None = None
    for moment in grid:
        portfolio = replay.advance_to(moment)
        equity = portfolio.equity
        high = equity if high is None else max(high, equity)
        if start is not None and moment < start:
            continue
        points.append(
            EquityPoint(
                timestamp=moment,
                equity=equity,
                cash=portfolio.cash,
                positions_value=portfolio.positions_value,
                drawdown_pct=_drawdown_pct(high, equity),
                exposed=any(not p.is_flat for p in portfolio.positions.values()),
            )
        )
    return points


class _Replay:
    """Walks fills and bars forward in time through a ledger; each step only moves forward."""

    def __init__(self, portfolio: Portfolio, fills: list[Fill], bars: dict[str, list[Bar]]) -> None:
        self._ledger = PortfolioLedger(portfolio)
        self._fills = fills
        self._next_fill = 0
        self._bars = bars
        self._next_bar = dict.fromkeys(bars, 0)
        self._last_fill_at: dict[str, datetime] = {}

    def advance_to(self, moment: datetime) -> Portfolio:
        fills = self._fills
        while self._next_fill < len(fills) and fills[self._next_fill].timestamp <= moment:
            fill = fills[self._next_fill]
            self._ledger.apply_fill(fill)
            self._last_fill_at[fill.symbol] = fill.timestamp
            self._next_fill += 1
        for symbol, bars in self._bars.items():
            index = self._next_bar[symbol]
            while index < len(bars) and bars[index].close_time <= moment:
                index += 1
            self._next_bar[symbol] = index
            if index:
                self._mark_with_bar(symbol, bars[index - 1], moment)
        return self._ledger.portfolio

    def _mark_with_bar(self, symbol: str, bar: Bar, moment: datetime) -> None:
        portfolio = self._ledger.portfolio
        position = portfolio.positions.get(symbol)
        if position is None or position.is_flat:
            return  # a flat symbol is worth nothing at any price; its next fill sets a mark
        last_fill = self._last_fill_at.get(symbol)
        if last_fill is not None and bar.close_time <= last_fill:
            return
        if portfolio.marks.get(symbol) != bar.close:
            self._ledger.mark(symbol, bar.close, moment)


def _bars_by_symbol(prices: Mapping[str, Sequence[Bar]]) -> dict[str, list[Bar]]:
    result: dict[str, list[Bar]] = {}
    for symbol, bars in prices.items():
        strays = {bar.symbol for bar in bars if bar.symbol != symbol}
        if strays:
            raise InvalidPerformanceInputError(
                f"bars for {', '.join(sorted(strays))} were given under {symbol}"
            )
        result[symbol] = sorted(bars, key=lambda bar: bar.close_time)
    return result


def _event_times(fills: list[Fill], bars: dict[str, list[Bar]]) -> tuple[datetime, datetime] | None:
    times = [fill.timestamp for fill in fills[:1] + fills[-1:]]
    for series in bars.values():
        times.extend(bar.close_time for bar in series[:1] + series[-1:])
    if not times:
        return None
    return min(times), max(times)


def _grid(
    events: tuple[datetime, datetime] | None, start: datetime | None, resolution: Timeframe
) -> Iterator[datetime]:
    if events is None and start is None:
        return
    candidates_first: list[datetime] = []
    candidates_last: list[datetime] = []
    if events is not None:
        first_event, last_event = events
        origin = _floor(first_event, resolution)
        # One step before the first event, so the curve opens before anything happened.
        candidates_first.append(origin if origin < first_event else _shift(origin, resolution, -1))
        candidates_last.append(_ceil(last_event, resolution))
    if start is not None:
        candidates_first.append(_ceil(start, resolution))
        candidates_last.append(_ceil(start, resolution))
    moment = min(candidates_first)
    end = max(candidates_last)
    while moment <= end:
        yield moment
        moment = _shift(moment, resolution, 1)


def _floor(moment: datetime, resolution: Timeframe) -> datetime:
    moment = moment.astimezone(UTC)
    if resolution is Timeframe.MO1:
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    anchor = _FIRST_MONDAY if resolution is Timeframe.W1 else _EPOCH
    step = resolution.duration
    return anchor + (moment - anchor) // step * step


def _ceil(moment: datetime, resolution: Timeframe) -> datetime:
    floor = _floor(moment, resolution)
    return floor if floor == moment else _shift(floor, resolution, 1)


def _shift(moment: datetime, resolution: Timeframe, steps: int) -> datetime:
    if resolution is Timeframe.MO1:
        month_index = moment.year * 12 + moment.month - 1 + steps
        return moment.replace(year=month_index // 12, month=month_index % 12 + 1)
    return moment + resolution.duration * steps


def _drawdown_pct(high: Decimal, equity: Decimal) -> Decimal:
    if high <= 0:
        return ZERO
    return max(ZERO, (high - equity) / high * 100)
