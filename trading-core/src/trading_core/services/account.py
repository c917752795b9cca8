"""The account as the database records it: initial cash plus every fill, marked to the feed.

Every process on one database (the MCP servers, ``trading-core run``, the CLI) therefore sees the
same positions: the store's fills are the truth, and a process adopts fills written by another
one on :meth:`Account.sync`. Only instruments quoted in the account currency count (FX conversion
is not supported yet); fills in other currencies are reported, not mixed in.
"""

from __future__ import annotations

from decimal import Decimal

from trading_core.domain.errors import InstrumentNotFoundError
from trading_core.domain.order import PAPER_ACCOUNT
from trading_core.domain.portfolio import Portfolio
from trading_core.instruments import InstrumentRegistry
from trading_core.portfolio.ledger import PortfolioLedger
from trading_core.ports.store import Store


class Account:
    """Owns the ledger the order service applies fills to, and keeps it in step with the store."""

    def __init__(
        self,
        store: Store,
        instruments: InstrumentRegistry,
        *,
        currency: str,
        initial_cash: Decimal,
        name: str = PAPER_ACCOUNT,
        ledger: PortfolioLedger | None = None,
    ) -> None:
        """``ledger``: an empty one to fill (a run passes one that tells its observers about
        fills); default a new one starting from ``initial_cash``."""
        self._store = store
        self._instruments = instruments
        self.name = name
        """The book shown and traded: the paper account, or a replay's own book."""
        self.currency = currency
        self.initial_cash = initial_cash
        self.ledger = ledger or PortfolioLedger(
            Portfolio.start(initial_cash, base_currency=currency)
        )
        self.foreign_fills = 0
        """Fills in instruments of another currency (left out of this account)."""

    @property
    def portfolio(self) -> Portfolio:
        return self.ledger.portfolio

    def counts(self, symbol: str) -> bool:
        """Whether ``symbol`` belongs to this account (quoted in its currency)."""
        try:
            return self._instruments.get(symbol).currency == self.currency
        except InstrumentNotFoundError:  # a symbol no longer configured is not ours
            return False

    async def sync(self) -> int:
        """Apply fills the store holds that this ledger has not seen; returns how many."""
        applied = 0
        foreign = 0
        for fill in await self._store.list_fills(account=self.name):
            if not self.counts(fill.symbol):
                foreign += 1
                continue
            if self.ledger.apply_fill(fill):
                applied += 1
        self.foreign_fills = foreign
        return applied
