"""Latest quote per symbol, as seen by the execution path."""

from __future__ import annotations

from trading_core.domain.market import Quote


class QuoteBook:
    """The freshest quote per symbol; older quotes never replace newer ones."""

    def __init__(self) -> None:
        self._quotes: dict[str, Quote] = {}

    def update(self, quote: Quote) -> None:
        current = self._quotes.get(quote.symbol)
        if current is None or quote.timestamp >= current.timestamp:
            self._quotes[quote.symbol] = quote

    def get(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    def all(self) -> list[Quote]:
        """The freshest quote of every symbol seen."""
        return list(self._quotes.values())
