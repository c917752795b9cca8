"""The running account: applies fills and marks to a frozen Portfolio, counting each fill once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from trading_core.domain.fill import Fill
from trading_core.domain.portfolio import Portfolio
from trading_core.domain.position import Position


class PortfolioLedger:
    """Holds the current Portfolio value object; every change replaces it."""

    def __init__(self, portfolio: Portfolio) -> None:
        self._portfolio = portfolio
        self._seen_fills: set[str] = set()

    @property
    def portfolio(self) -> Portfolio:
        return self._portfolio

    def apply_fill(self, fill: Fill) -> bool:
        """Apply ``fill`` unless its id was applied before; returns whether it was applied."""
        if fill.fill_id in self._seen_fills:
            return False
        self._seen_fills.add(fill.fill_id)
        self._portfolio = self._portfolio.apply_fill(fill)
        return True

    def open_book(
        self,
        *,
        cash: Decimal,
        positions: Mapping[str, Position],
        marks: Mapping[str, Decimal],
        at: datetime,
    ) -> None:
        """Start from a venue's truth: a live account's book once reconciliation has passed.

        The high-water mark and the day's starting equity are the opening equity, so the
        breakers measure from here rather than from a paper starting balance.
        """
        opened = Portfolio(
            base_currency=self._portfolio.base_currency,
            cash=cash,
            positions={s: p for s, p in positions.items() if p.quantity or p.realized_pnl},
            marks=dict(marks),
            high_water_mark=cash,
            start_of_day_equity=cash,
            as_of=at,
        )
        equity = opened.equity
        self._portfolio = opened.model_copy(
            update={"high_water_mark": equity, "start_of_day_equity": equity}
        )

    def mark_applied(self, fill_ids: Iterable[str]) -> None:
        """Fills the opening book already holds (``open_book``): never applied on top of it."""
        self._seen_fills.update(fill_ids)

    def position_after(self, fill: Fill) -> Position | None:
        """The position ``fill`` would leave, without applying it (None: applied already)."""
        if fill.fill_id in self._seen_fills:
            return None
        return self._portfolio.apply_fill(fill).position(fill.symbol)

    def mark(self, symbol: str, price: Decimal, at: datetime) -> None:
        self._portfolio = self._portfolio.mark(symbol, price, at)

    def roll_day(self) -> None:
        """A new session: today's P&L is measured from the equity now."""
        self._portfolio = self._portfolio.roll_day()
