"""Kraken's public prices as the MCP servers' ``MarketFeed`` (``TRADING_SOURCE=kraken``).

A suite on this feed fills paper orders at Kraken's ticker, so it can serve a run that trades
Kraken's prices (`trading-core run --source kraken --tools mcp`). Candles are asked of Kraken at
most once per bar per symbol; a ticker that cannot be had is a clear error, never a stale price.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from trading_core.domain.errors import DataError, InstrumentNotFoundError
from trading_core.domain.market import Bar, Quote, Timeframe
from trading_core.marketdata.kraken import KrakenPublicSource
from trading_core.marketdata.resample import bucket_start
from trading_core.ports.clock import Clock


class KrakenFeed:
    """Recent closed candles and the ticker of each symbol, from Kraken's public REST API."""

    name = "kraken"

    def __init__(
        self,
        symbols: Sequence[str],
        timeframe: Timeframe,
        *,
        clock: Clock,
        history_bars: int,
        api_url: str | None = None,
    ) -> None:
        self._source = KrakenPublicSource(
            symbols, timeframe, api_url=api_url, clock=clock, history_bars=history_bars
        )
        self._clock = clock
        self._bars: dict[str, tuple[datetime, list[Bar]]] = {}

    def symbols(self) -> Sequence[str]:
        return self._source.symbols()

    @property
    def timeframe(self) -> Timeframe:
        return self._source.timeframe

    @property
    def clock(self) -> Clock:
        return self._clock

    async def history(self, symbol: str) -> list[Bar]:
        self._require(symbol)
        bucket = bucket_start(self._clock.now(), self.timeframe)
        cached = self._bars.get(symbol)
        if cached is not None and cached[0] == bucket:
            return list(cached[1])
        bars = await self._source.recent_bars(symbol)
        self._bars[symbol] = (bucket, bars)
        return list(bars)

    async def latest_quote(self, symbol: str) -> Quote:
        self._require(symbol)
        quote = await self._source.latest_quote(symbol)
        if quote is None:
            raise DataError(f"Kraken's ticker for {symbol} cannot be had right now")
        return quote

    async def close(self) -> None:
        await self._source.close()

    def _require(self, symbol: str) -> None:
        if symbol not in self.symbols():
            raise InstrumentNotFoundError(
                f"symbol {symbol!r} is not served by the kraken feed ({', '.join(self.symbols())})"
            )
