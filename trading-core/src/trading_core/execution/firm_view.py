"""The firm risk view of one live run: its own book published, the other accounts' read back.

Every live run writes a snapshot of its account (cash, positions with their marks and quote
times, open buys) to the store under ``firm.account.<account>``: after every booked fill and
every ``firm.publish_seconds``. A run configured with ``firm.accounts`` reads those accounts'
snapshots under its order gate before each check, and its pre-trade check adds the firm-wide
control (:func:`trading_core.risk.controls._firm_exposure`) over all of them together, converted
to ``firm.base_currency`` from quotes (:mod:`trading_core.risk.fx`).

The store is the exchange point because both runs already share it (one database is what makes
them one firm); no run reaches into another venue's connection.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from trading_core.domain.base import ZERO
from trading_core.domain.order import Order, Side
from trading_core.domain.portfolio import Portfolio
from trading_core.instruments import InstrumentRegistry
from trading_core.ports.clock import Clock
from trading_core.ports.store import Store
from trading_core.risk.firm import (
    AccountSnapshot,
    FirmExposure,
    FirmLimits,
    HeldPosition,
    firm_exposure,
)
from trading_core.risk.fx import FxQuote, FxRates
from trading_core.settings import FirmSettings

from .quotes import QuoteBook

log = logging.getLogger(__name__)
SNAPSHOT_KEY_PREFIX = "firm.account."


def snapshot_key(account: str) -> str:
    """The store state key an account's snapshot is published under."""
    return f"{SNAPSHOT_KEY_PREFIX}{account}"


class FirmView:
    """This account's part of the firm view, and what it last read of the others'."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        instruments: InstrumentRegistry,
        account: str,
        settings: FirmSettings,
    ) -> None:
        self._store = store
        self._clock = clock
        self._instruments = instruments
        self.account = account
        self._settings = settings
        self._others: dict[str, AccountSnapshot | None] = {
            name: None for name in settings.accounts if name != account
        }
        self._limits = FirmLimits(
            max_account_age=timedelta(seconds=settings.max_account_age_seconds),
            max_mark_age=timedelta(seconds=settings.max_mark_age_seconds),
        )

    @property
    def counts_others(self) -> bool:
        """Whether other accounts are configured (else the check needs no firm view)."""
        return bool(self._others)

    async def refresh(self) -> None:
        """Read the other accounts' latest snapshots (an unreadable one counts as missing)."""
        for name in self._others:
            data = await self._store.get_state(snapshot_key(name))
            snapshot: AccountSnapshot | None = None
            if data is not None:
                try:
                    snapshot = AccountSnapshot.from_state(data)
                except ValueError as exc:
                    log.warning("firm view: account %s's snapshot is unreadable: %s", name, exc)
            self._others[name] = snapshot

    def snapshot(
        self, portfolio: Portfolio, quotes: QuoteBook, open_orders: Sequence[Order]
    ) -> AccountSnapshot:
        """This account as it stands: positions marked at the quote book's mids, with times."""
        positions = []
        for p in portfolio.positions.values():
            if p.quantity == 0:
                continue
            quote = quotes.get(p.symbol)
            positions.append(
                HeldPosition(
                    symbol=p.symbol,
                    currency=self._instruments.get(p.symbol).currency,
                    asset_class=str(self._instruments.get(p.symbol).asset_class),
                    quantity=p.quantity,
                    mark=None if quote is None else quote.mid,
                    marked_at=None if quote is None else quote.timestamp,
                )
            )
        buys: dict[str, Decimal] = {}
        for order in open_orders:
            if order.side is Side.BUY and order.limit_price is not None:
                currency = self._instruments.get(order.symbol).currency
                buys[currency] = buys.get(currency, ZERO) + order.remaining_quantity * (
                    order.limit_price
                )
        return AccountSnapshot(
            account=self.account,
            currency=portfolio.base_currency,
            cash=portfolio.cash,
            positions=tuple(sorted(positions, key=lambda h: h.symbol)),
            as_of=self._clock.now(),
            open_buys=buys,
            pairs=tuple(_pair_quotes(quotes)),
        )

    def exposure(
        self, own: AccountSnapshot, quotes: QuoteBook, order_currency: str
    ) -> FirmExposure:
        """Every account together in the base currency, priced for an order in
        ``order_currency``."""
        now = self._clock.now()
        fx_quotes: list[FxQuote] = [
            fx for q in quotes.all() if (fx := FxQuote.of(q.symbol, q.mid, q.timestamp)) is not None
        ]
        for other in self._others.values():
            if other is not None:
                fx_quotes += other.fx_quotes()
        rates = FxRates(
            fx_quotes, now=now, max_age=timedelta(seconds=self._settings.max_fx_age_seconds)
        )
        return firm_exposure(
            {self.account: own, **self._others},
            base_currency=self._settings.base_currency,
            order_currency=order_currency,
            fx=rates,
            now=now,
            limits=self._limits,
        )

    async def publish(self, own: AccountSnapshot) -> None:
        """Write this account's snapshot for the other runs."""
        await self._store.put_state(snapshot_key(self.account), own.to_state())


def _pair_quotes(quotes: QuoteBook) -> list[FxQuote]:
    return [
        fx for q in quotes.all() if (fx := FxQuote.of(q.symbol, q.mid, q.timestamp)) is not None
    ]
