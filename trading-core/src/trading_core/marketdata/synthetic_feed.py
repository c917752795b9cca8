"""A live-ish synthetic feed: seeded random walks that only ever show what the clock has reached."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from trading_core.domain.errors import DataError, InstrumentNotFoundError
from trading_core.domain.market import Bar, Quote, Timeframe
from trading_core.marketdata.quotes import quote_around
from trading_core.marketdata.resample import bucket_start
from trading_core.marketdata.synthetic import SyntheticSource
from trading_core.ports.clock import Clock

DEFAULT_HISTORY_BARS = 4320
"""Three days of one-minute bars: enough to warm every indicator on hourly bars too."""
DEFAULT_START_PRICE = Decimal(100)
DEFAULT_SPREAD_BPS = Decimal(2)


class _SymbolStream:
    """One symbol's walk: closed bars kept, plus at most one bar not closed yet."""

    def __init__(self, source: SyntheticSource, window: int, tick: Decimal | None) -> None:
        self.source = source
        self.tick = tick
        self.stream: AsyncIterator[Bar] = source.bars()
        self.pending: Bar | None = None
        self.closed: deque[Bar] = deque(maxlen=window)

    async def catch_up(self, clock: Clock) -> None:
        now = clock.now()
        while True:
            if self.pending is None:
                # Bars are made only here, one ahead of the clock at most: nothing is
                # generated (or could leak) before the clock gets near it.
                self.pending = await anext(self.stream)
            if self.pending.close_time > now:
                return
            self.closed.append(self.pending)
            self.pending = None

    async def close(self) -> None:
        if isinstance(self.stream, AsyncGenerator):
            await self.stream.aclose()
        await self.source.close()


class SyntheticFeed:
    """Seeded synthetic bars and quotes that follow ``clock`` (implements ``MarketFeed``).

    At construction the walk of every symbol is anchored so that its first bar opens at
    ``floor(clock.now(), timeframe) - history_bars * timeframe``: the feed starts with
    ``history_bars`` closed bars and then grows one bar per ``timeframe`` of clock time. Bars
    are generated lazily, only when asked for and only while their close time has passed
    (one bar of look-ahead is buffered and never shown). The same seed and the same
    construction time give identical bars; each symbol walks on its own stream, as in
    ``SyntheticSource``, so adding a symbol changes none of the others.

    ``tick`` (one for all, or per symbol) rounds prices and quotes, e.g. to the instrument's
    tick size (a symbol missing from a mapping gets the default); by default prices keep
    ``SyntheticSource``'s five significant digits and quotes ``quote_around``'s eight. A
    symbol missing from a ``start_price`` mapping starts at ``DEFAULT_START_PRICE``. Monthly
    bars have no fixed length and are refused.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        *,
        seed: int,
        clock: Clock,
        timeframe: Timeframe = Timeframe.M1,
        history_bars: int = DEFAULT_HISTORY_BARS,
        start_price: Decimal | Mapping[str, Decimal] = DEFAULT_START_PRICE,
        spread_bps: Decimal = DEFAULT_SPREAD_BPS,
        tick: Decimal | Mapping[str, Decimal] | None = None,
        name: str = "synthetic",
    ) -> None:
        ordered = tuple(sorted(set(symbols)))
        if not ordered:
            raise ValueError("a synthetic feed needs at least one symbol")
        if history_bars < 1:
            raise ValueError(f"history_bars must be at least 1: {history_bars}")
        if timeframe is Timeframe.MO1:
            raise ValueError("a synthetic feed needs a fixed-length timeframe, not 1M")
        self.name = name
        self._clock = clock
        self._timeframe = timeframe
        self._seed = seed
        self._spread_bps = spread_bps
        self._start = bucket_start(clock.now(), timeframe) - history_bars * timeframe.duration
        self._lock = asyncio.Lock()
        self._streams: dict[str, _SymbolStream] = {}
        for symbol in ordered:
            symbol_tick = _tick(tick, symbol)
            source = SyntheticSource(
                [symbol],
                seed=seed,
                start=self._start,
                timeframe=timeframe,
                start_price=_start_price(start_price, symbol),
                spread_bps=spread_bps,
                tick=symbol_tick,
                name=name,
            )
            self._streams[symbol] = _SymbolStream(source, history_bars, symbol_tick)

    @property
    def timeframe(self) -> Timeframe:
        return self._timeframe

    @property
    def clock(self) -> Clock:
        """The clock the feed follows (the injected one)."""
        return self._clock

    @property
    def start(self) -> datetime:
        """Open time of the first bar of every walk."""
        return self._start

    def symbols(self) -> Sequence[str]:
        return tuple(self._streams)

    async def history(self, symbol: str) -> list[Bar]:
        """Closed bars of ``symbol`` up to the clock's now, oldest first, at most the window."""
        stream = await self._caught_up(symbol)
        return list(stream.closed)

    async def latest_quote(self, symbol: str) -> Quote:
        """A quote around the last closed bar's close, stamped at that bar's close time.

        Its age is always under one bar (under 60 s with one-minute bars).
        """
        stream = await self._caught_up(symbol)
        if not stream.closed:  # cannot happen: history_bars >= 1 bars closed at construction
            raise DataError(f"no closed bar of {symbol} yet")
        bar = stream.closed[-1]
        return quote_around(
            symbol=symbol,
            price=bar.close,
            spread_bps=self._spread_bps,
            timestamp=bar.close_time,
            source=f"{self.name}:{self._seed}",
            volume=bar.volume,
            tick=stream.tick,
        )

    async def close(self) -> None:
        """Stop the walks."""
        for stream in self._streams.values():
            await stream.close()

    async def _caught_up(self, symbol: str) -> _SymbolStream:
        stream = self._streams.get(symbol)
        if stream is None:
            raise InstrumentNotFoundError(
                f"symbol {symbol!r} is not served by the {self.name} feed "
                f"(it serves {', '.join(self._streams)})"
            )
        # Two tool calls at once must not both pull from one generator.
        async with self._lock:
            await stream.catch_up(self._clock)
        return stream


def _start_price(value: Decimal | Mapping[str, Decimal], symbol: str) -> Decimal:
    if isinstance(value, Mapping):
        return value.get(symbol, DEFAULT_START_PRICE)
    return value


def _tick(value: Decimal | Mapping[str, Decimal] | None, symbol: str) -> Decimal | None:
    return value.get(symbol) if isinstance(value, Mapping) else value
