"""Executions reported by a broker."""

from __future__ import annotations

from decimal import Decimal

from trading_core.domain.base import ZERO, Frozen, NonNegativeDecimal, PositiveDecimal, UtcDatetime
from trading_core.domain.order import PAPER_ACCOUNT, Side


class Fill(Frozen):
    """One execution; ``fill_id`` is unique per broker so a repeated report is counted once."""

    fill_id: str
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: PositiveDecimal
    price: PositiveDecimal
    commission: NonNegativeDecimal = ZERO
    timestamp: UtcDatetime
    strategy_id: str | None = None
    liquidity: str = "taker"
    account: str = PAPER_ACCOUNT
    """The book of the order it fills (see :data:`trading_core.domain.order.PAPER_ACCOUNT`)."""

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity * self.side.sign
