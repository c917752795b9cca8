"""What a run reports at the end."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from pydantic import Field

from trading_core.domain.base import Frozen, Money
from trading_core.domain.precision import format_money


class RunSummary(Frozen):
    run_id: str
    bars: int = 0
    symbols: list[str] = Field(default_factory=list)
    decisions: dict[str, int] = Field(default_factory=dict)
    orders: dict[str, int] = Field(default_factory=dict)
    fills: int = 0
    currency: str
    starting_equity: Money
    ending_equity: Money
    realized_pnl: Money
    unrealized_pnl: Money
    commissions: Money
    max_drawdown_pct: Money
    database: str
    bus: str
    stopped_early: bool = False

    @property
    def total_decisions(self) -> int:
        return sum(self.decisions.values())

    @property
    def pnl(self) -> Decimal:
        return self.ending_equity - self.starting_equity

    def render(self) -> str:
        """A closing summary a person reads in a terminal."""
        pct = self.pnl / self.starting_equity * 100 if self.starting_equity else Decimal(0)

        def money(amount: Decimal) -> str:
            return format_money(amount, self.currency)

        decisions = ", ".join(f"{k} {v}" for k, v in sorted(self.decisions.items())) or "none"
        orders = ", ".join(f"{k} {v}" for k, v in sorted(self.orders.items())) or "none"
        lines = [
            f"run {self.run_id}{' (stopped early)' if self.stopped_early else ''}",
            f"  bars processed : {self.bars} ({', '.join(self.symbols)})",
            f"  decisions      : {self.total_decisions} ({decisions})",
            f"  orders         : {sum(self.orders.values())} ({orders})",
            f"  fills          : {self.fills}",
            f"  equity         : {money(self.starting_equity)} -> {money(self.ending_equity)} "
            f"{self.currency} ({pct:+.3f}%)",
            f"  P&L            : realized {money(self.realized_pnl)}, unrealized "
            f"{money(self.unrealized_pnl)}, commissions {money(self.commissions)}",
            f"  max drawdown   : {self.max_drawdown_pct:.3f}%",
            f"  database       : {self.database}",
            f"  bus            : {self.bus}",
        ]
        return "\n".join(lines)


def count(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items()))
