"""Market data sources: replay files, synthetic walks, exchange feeds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from trading_core.domain.market import Bar, Quote, Timeframe


class MarketDataSource(Protocol):
    """A source of closed bars in time order (ties broken by symbol), across its symbols."""

    name: str

    def symbols(self) -> Sequence[str]:
        """Symbols this source serves."""
        ...

    @property
    def timeframe(self) -> Timeframe: ...

    def bars(self) -> AsyncIterator[Bar]:
        """Closed bars, oldest first. Finite for replays, endless for live sources."""
        ...

    async def latest_quote(self, symbol: str) -> Quote | None:
        """Freshest quote for ``symbol`` or None if the source has none yet."""
        ...

    async def close(self) -> None: ...
