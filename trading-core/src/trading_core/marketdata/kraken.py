"""Kraken's public market data (no API key) through ``ccxt.async_support``.

Only public endpoints are called: ``/0/public/Assets`` and ``/0/public/AssetPairs`` (ccxt's
``load_markets``), ``/0/public/OHLC`` and ``/0/public/Ticker``. ccxt hands back floats; they
become Decimals here, at the edge, through their repr.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol, cast

import ccxt.async_support as ccxt
from pydantic import ValidationError

from trading_core.adapters.clock import SystemClock
from trading_core.domain.errors import ConfigurationError, DataError, InstrumentNotFoundError
from trading_core.domain.market import Bar, Quote, Timeframe
from trading_core.marketdata.timing import SleepFunction, sleep_until
from trading_core.marketdata.validation import to_decimal, validate_bars
from trading_core.ports.clock import Clock

logger = logging.getLogger(__name__)

KRAKEN_TIMEFRAMES = frozenset(
    {
        Timeframe.M1,
        Timeframe.M5,
        Timeframe.M15,
        Timeframe.M30,
        Timeframe.H1,
        Timeframe.H4,
        Timeframe.D1,
        Timeframe.W1,
    }
)
"""Timeframes Kraken's OHLC endpoint serves (it has no calendar month)."""
SOURCE_NAME = "kraken"

OhlcvRow = list[float | int | None]


class PublicExchange(Protocol):
    """The part of a ccxt async exchange this source uses."""

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = ..., since: int | None = ..., limit: int | None = ...
    ) -> list[OhlcvRow]: ...

    async def fetch_ticker(self, symbol: str) -> dict[str, object]: ...

    async def close(self) -> None: ...


class KrakenPublicSource:
    """Closed bars and quotes from Kraken's public REST API (implements ``MarketDataSource``).

    ``bars()`` polls every symbol once per timeframe, ``poll_delay`` after each bar closes.
    Kraken's last candle is still forming, so it is never yielded; neither is any candle whose
    close time the clock has not reached. The first poll yields the last ``history_bars``
    closed bars (0: none, only new bars from then on); later polls yield only newer bars.
    ``max_polls`` ends the stream after that many polls (None: endless). Network errors skip a
    poll (logged) instead of ending the stream. The source owns ``exchange`` and closes it.
    """

    name = SOURCE_NAME

    def __init__(
        self,
        symbols: Iterable[str],
        timeframe: Timeframe,
        *,
        exchange: PublicExchange | None = None,
        api_url: str | None = None,
        clock: Clock | None = None,
        sleep: SleepFunction = asyncio.sleep,
        history_bars: int = 0,
        poll_delay: timedelta = timedelta(seconds=2),
        max_polls: int | None = None,
    ) -> None:
        self._symbols = tuple(sorted(set(symbols)))
        if not self._symbols:
            raise ConfigurationError("the Kraken source needs at least one symbol")
        if timeframe not in KRAKEN_TIMEFRAMES:
            raise ConfigurationError(f"Kraken has no {timeframe} candles")
        if history_bars < 0:
            raise ConfigurationError(f"history_bars must not be negative: {history_bars}")
        self._timeframe = timeframe
        self._exchange: PublicExchange = (
            exchange if exchange is not None else public_exchange(api_url)
        )
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._sleep = sleep
        self._history_bars = history_bars
        self._poll_delay = poll_delay
        self._max_polls = max_polls

    @property
    def timeframe(self) -> Timeframe:
        return self._timeframe

    def symbols(self) -> Sequence[str]:
        return self._symbols

    async def bars(self) -> AsyncIterator[Bar]:
        """Closed bars of every symbol, oldest first, ties by symbol; polls until closed."""
        newest: dict[str, datetime] = {}
        polls = 0
        while True:
            now = self._clock.now()
            batch: list[Bar] = []
            for symbol in self._symbols:
                batch.extend(await self._new_closed_bars(symbol, newest, now))
            batch.sort(key=lambda bar: (bar.timestamp, bar.symbol))
            for bar in batch:
                yield bar
            polls += 1
            if self._max_polls is not None and polls >= self._max_polls:
                return
            await sleep_until(self._clock, self._next_poll_time(), self._sleep)

    async def latest_quote(self, symbol: str) -> Quote | None:
        """Best bid/ask and last trade from the ticker; None if Kraken cannot be reached."""
        try:
            ticker = await self._exchange.fetch_ticker(symbol)
        except ccxt.BadSymbol as exc:
            raise InstrumentNotFoundError(f"Kraken does not list {symbol}") from exc
        except ccxt.NetworkError as exc:
            logger.warning("kraken ticker for %s unavailable: %s", symbol, describe_failure(exc))
            return None
        bid, ask, last = (_positive_float(ticker.get(key)) for key in ("bid", "ask", "last"))
        if bid is None or ask is None or last is None:
            return None
        volume = _positive_float(ticker.get("baseVolume"))
        stamp = ticker.get("timestamp")
        try:
            return Quote(
                symbol=symbol,
                bid=to_decimal(bid),
                ask=to_decimal(ask),
                last=to_decimal(last),
                volume=to_decimal(volume) if volume is not None else 0,
                timestamp=(
                    datetime.fromtimestamp(stamp / 1000, UTC)
                    if isinstance(stamp, int | float)
                    else self._clock.now()
                ),
                source=SOURCE_NAME,
            )
        except ValidationError as exc:
            raise DataError(f"Kraken sent an unusable quote for {symbol}: {ticker}") from exc

    async def recent_bars(self, symbol: str) -> list[Bar]:
        """The last ``history_bars`` closed bars of ``symbol`` as of now (one candle request)."""
        return await self._new_closed_bars(symbol, {}, self._clock.now())

    async def close(self) -> None:
        await self._exchange.close()

    async def _new_closed_bars(
        self, symbol: str, newest: dict[str, datetime], now: datetime
    ) -> list[Bar]:
        """Closed bars newer than ``newest[symbol]`` (updated); the first time, the history."""
        seen = newest.get(symbol)
        since = int(seen.timestamp() * 1000) if seen is not None else None
        try:
            rows = await self._exchange.fetch_ohlcv(symbol, self._timeframe.value, since=since)
        except ccxt.BadSymbol as exc:
            raise InstrumentNotFoundError(f"Kraken does not list {symbol}") from exc
        except ccxt.NetworkError as exc:
            logger.warning(
                "kraken candles for %s unavailable, retrying at %s: %s",
                symbol,
                f"{self._next_poll_time():%H:%M:%S} UTC",
                describe_failure(exc),
            )
            return []
        except ccxt.ExchangeError as exc:
            raise DataError(f"Kraken refused candles for {symbol}: {exc}") from exc
        # Kraken's last candle is the current, not yet committed, one.
        candidates = [bar for row in rows[:-1] if (bar := self._to_bar(symbol, row)) is not None]
        closed = [bar for bar in candidates if bar.close_time <= now]
        clean, report = validate_bars(closed, now=now)
        if report.total_dropped:
            logger.warning("kraken %s: dropped %s", symbol, report.dropped)
        if not clean:
            return []
        newest[symbol] = max(clean[-1].timestamp, seen) if seen is not None else clean[-1].timestamp
        if seen is not None:
            return [bar for bar in clean if bar.timestamp > seen]
        return clean[len(clean) - self._history_bars :] if self._history_bars else []

    def _to_bar(self, symbol: str, row: OhlcvRow) -> Bar | None:
        timestamp, *values = row[:6]
        numbers = [float(value) for value in values if value is not None]
        if not isinstance(timestamp, int | float) or len(numbers) != 5:
            logger.warning("kraken %s: incomplete candle %s skipped", symbol, row)
            return None
        open_, high, low, close, volume = numbers
        try:
            return Bar(
                symbol=symbol,
                timeframe=self._timeframe,
                timestamp=datetime.fromtimestamp(timestamp / 1000, UTC),
                open=to_decimal(open_),
                high=to_decimal(high),
                low=to_decimal(low),
                close=to_decimal(close),
                volume=to_decimal(volume),
            )
        except ValidationError as exc:
            logger.warning("kraken %s: invalid candle %s skipped: %s", symbol, row, exc)
            return None

    def _next_poll_time(self) -> datetime:
        now = self._clock.now()
        period = self._timeframe.duration.total_seconds()
        next_close = (now.timestamp() // period + 1) * period
        return datetime.fromtimestamp(next_close, UTC) + self._poll_delay


def public_exchange(api_url: str | None = None) -> PublicExchange:
    """ccxt's async Kraken client, rate-limited; ``api_url`` replaces Kraken's base URL."""
    exchange = ccxt.kraken({"enableRateLimit": True})
    point_at(exchange, api_url)
    return cast(PublicExchange, exchange)


def point_at(exchange: ccxt.Exchange, api_url: str | None) -> None:
    """Send ``exchange``'s public and private calls to ``api_url`` (None: Kraken's own)."""
    if api_url is not None:
        base = api_url.rstrip("/")
        exchange.urls["api"] = {**exchange.urls["api"], "public": base, "private": base}


def describe_failure(exc: BaseException) -> str:
    """ccxt's message and the causes under it: ccxt names only the URL, the cause says why.

    ``kraken GET https://api.kraken.com/0/public/Assets: Cannot connect to host
    api.kraken.com:443 ssl:default [Name or service not known]`` instead of the URL alone.
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current).strip() or type(current).__name__
        if text not in parts:
            parts.append(text)
        current = current.__cause__ or current.__context__
    return ": ".join(parts)


def _positive_float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None
