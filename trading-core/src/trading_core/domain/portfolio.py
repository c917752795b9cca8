"""Portfolio: cash plus positions marked to market, with high-water mark and start-of-day equity."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from trading_core.domain.base import ZERO, Frozen, Money, UtcDatetime
from trading_core.domain.fill import Fill
from trading_core.domain.position import Position


class Portfolio(Frozen):
    """Cash account state. Marks are the latest prices used to value positions."""

    base_currency: str = "USD"
    cash: Money
    positions: dict[str, Position] = Field(default_factory=dict)
    marks: dict[str, Money] = Field(default_factory=dict)
    high_water_mark: Money
    start_of_day_equity: Money
    as_of: UtcDatetime | None = None

    @classmethod
    def start(cls, cash: Decimal, *, base_currency: str = "USD") -> Portfolio:
        return cls(
            cash=cash,
            high_water_mark=cash,
            start_of_day_equity=cash,
            base_currency=base_currency,
        )

    def position(self, symbol: str) -> Position:
        return self.positions.get(symbol) or Position(symbol=symbol)

    def mark_of(self, symbol: str) -> Decimal:
        """Latest mark, falling back to average entry when the symbol was never marked."""
        mark = self.marks.get(symbol)
        return mark if mark is not None else self.position(symbol).average_price

    @property
    def positions_value(self) -> Decimal:
        return sum((p.market_value(self.mark_of(s)) for s, p in self.positions.items()), start=ZERO)

    @property
    def equity(self) -> Decimal:
        return self.cash + self.positions_value

    @property
    def gross_exposure(self) -> Decimal:
        return sum(
            (abs(p.market_value(self.mark_of(s))) for s, p in self.positions.items()), start=ZERO
        )

    @property
    def net_exposure(self) -> Decimal:
        return self.positions_value

    @property
    def unrealized_pnl(self) -> Decimal:
        return sum(
            (p.unrealized_pnl(self.mark_of(s)) for s, p in self.positions.items()), start=ZERO
        )

    @property
    def realized_pnl(self) -> Decimal:
        return sum((p.realized_pnl for p in self.positions.values()), start=ZERO)

    @property
    def commissions(self) -> Decimal:
        return sum((p.commissions for p in self.positions.values()), start=ZERO)

    @property
    def drawdown_pct(self) -> Decimal:
        """Drawdown from the high-water mark in percent (0 at a new high, positive below it)."""
        if self.high_water_mark <= 0:
            return ZERO
        return max(ZERO, (self.high_water_mark - self.equity) / self.high_water_mark * 100)

    @property
    def daily_pnl(self) -> Decimal:
        return self.equity - self.start_of_day_equity

    @property
    def daily_pnl_pct(self) -> Decimal:
        if self.start_of_day_equity <= 0:
            return ZERO
        return self.daily_pnl / self.start_of_day_equity * 100

    def apply_fill(self, fill: Fill) -> Portfolio:
        """Cash moves by notional and commission; the position absorbs the fill; marks update."""
        position = self.position(fill.symbol).apply_fill(fill)
        cash = self.cash - fill.signed_quantity * fill.price - fill.commission
        positions = {**self.positions, fill.symbol: position}
        marks = {**self.marks, fill.symbol: fill.price}
        updated = self.model_copy(
            update={"cash": cash, "positions": positions, "marks": marks, "as_of": fill.timestamp}
        )
        return updated.with_high_water_mark()

    def mark(self, symbol: str, price: Decimal, at: UtcDatetime) -> Portfolio:
        """Revalue ``symbol`` at ``price`` and lift the high-water mark on a new high."""
        updated = self.model_copy(update={"marks": {**self.marks, symbol: price}, "as_of": at})
        return updated.with_high_water_mark()

    def with_high_water_mark(self) -> Portfolio:
        equity = self.equity
        if equity > self.high_water_mark:
            return self.model_copy(update={"high_water_mark": equity})
        return self

    def roll_day(self) -> Portfolio:
        """Start a new trading day: today's P&L is measured from the current equity."""
        return self.model_copy(update={"start_of_day_equity": self.equity})
