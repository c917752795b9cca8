"""Positions: signed quantity (long > 0, short < 0), average entry, realized and unrealized P&L."""

from __future__ import annotations

from decimal import Decimal

from trading_core.domain.base import ZERO, Frozen, Money, NonNegativeDecimal, UtcDatetime
from trading_core.domain.fill import Fill


class Position(Frozen):
    """Net position in one symbol. Realized P&L excludes commissions (they are tracked apart)."""

    symbol: str
    quantity: Money = ZERO
    average_price: NonNegativeDecimal = ZERO
    realized_pnl: Money = ZERO
    commissions: NonNegativeDecimal = ZERO
    updated_at: UtcDatetime | None = None

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    def market_value(self, mark: Decimal) -> Decimal:
        return self.quantity * mark

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return (mark - self.average_price) * self.quantity

    def apply_fill(self, fill: Fill) -> Position:
        """Return the position after ``fill``: adds, reduces, closes or flips through zero."""
        if fill.symbol != self.symbol:
            raise ValueError(f"fill for {fill.symbol} applied to position in {self.symbol}")
        signed = fill.signed_quantity
        quantity = self.quantity
        average = self.average_price
        realized = self.realized_pnl
        if quantity == 0 or (quantity > 0) == (signed > 0):
            new_quantity = quantity + signed
            average = (average * abs(quantity) + fill.price * abs(signed)) / abs(new_quantity)
        else:
            closing = min(abs(signed), abs(quantity))
            direction = Decimal(1) if quantity > 0 else Decimal(-1)
            realized += (fill.price - average) * closing * direction
            new_quantity = quantity + signed
            if new_quantity == 0:
                average = ZERO
            elif (new_quantity > 0) != (quantity > 0):
                average = fill.price  # flipped through zero: the remainder opened at this price
        return self.model_copy(
            update={
                "quantity": new_quantity,
                "average_price": average,
                "realized_pnl": realized,
                "commissions": self.commissions + fill.commission,
                "updated_at": fill.timestamp,
            }
        )
