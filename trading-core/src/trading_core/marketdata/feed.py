"""Market feeds: recent closed bars and fresh quotes on demand, for readers like the MCP server.

A ``MarketDataSource`` pushes every bar through a pipeline in order; a ``MarketFeed`` answers
"what does the market look like now?" at any moment. Two feeds need nothing but this package:

- ``SyntheticFeed`` (``synthetic_feed``): seeded random walks that follow a clock (the default:
  it works offline with nothing configured);
- ``ReplayFeed`` (``replay_feed``): recorded files stepping forward with the wall clock.

``resample`` (``resample``) turns a feed's base bars into coarser ones; ``build_feed`` picks the
feed the settings ask for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.errors import ConfigurationError
from trading_core.domain.market import Bar, Quote, Timeframe
from trading_core.instruments import InstrumentRegistry
from trading_core.marketdata.loaders import load_bars_frame
from trading_core.marketdata.replay_feed import ReplayFeed
from trading_core.marketdata.resample import resample
from trading_core.marketdata.synthetic_feed import SyntheticFeed
from trading_core.ports.clock import Clock
from trading_core.settings import Settings, SourceKind

__all__ = [
    "REPLAY_WARMUP_BARS",
    "SYNTHETIC_START_PRICES",
    "MarketFeed",
    "ReplayFeed",
    "SyntheticFeed",
    "build_feed",
    "resample",
]

SYNTHETIC_START_PRICES = {"BTC/USD": Decimal(40_000), "ETH/USD": Decimal(2_500)}
"""Where the synthetic walks start (other symbols start at ``DEFAULT_START_PRICE``)."""
REPLAY_WARMUP_BARS = 500
"""Timeline steps a replay starts after (at most half the data), so indicators start warm."""
_MARKET_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MarketFeed(Protocol):
    """Recent closed bars and the latest quote of each symbol, as of the feed's clock."""

    name: str

    def symbols(self) -> Sequence[str]:
        """Symbols this feed serves."""
        ...

    @property
    def timeframe(self) -> Timeframe:
        """The base timeframe of ``history`` (coarser ones come from ``resample``)."""
        ...

    @property
    def clock(self) -> Clock:
        """The clock the feed's timestamps are on: measure quote ages against it."""
        ...

    async def history(self, symbol: str) -> list[Bar]:
        """Closed bars up to the clock's now, oldest first, at most the configured window.

        Raises ``InstrumentNotFoundError`` (code ``INSTRUMENT_NOT_FOUND``) for a symbol the
        feed does not serve.
        """
        ...

    async def latest_quote(self, symbol: str) -> Quote:
        """The freshest quote; ``InstrumentNotFoundError`` for a symbol the feed does not serve."""
        ...

    async def close(self) -> None:
        """Release whatever the feed holds."""
        ...


def build_feed(settings: Settings, instruments: InstrumentRegistry, clock: Clock) -> MarketFeed:
    """The feed ``settings.source`` names, its symbols checked against ``instruments``.

    ``synthetic`` walks ``settings.symbols`` (else ``settings.synthetic.symbols``) from
    ``settings.seed`` on ``clock``, with prices and quotes on the instruments' ticks. ``replay``
    plays ``settings.data`` (filtered to ``settings.symbols`` when given) with ``clock`` as the
    wall clock and a fresh market clock (the feed's ``clock``). Bar length, window and replay
    pace come from ``settings.mcp``. Raises ``ConfigurationError`` for a replay without files
    or the ``ib`` source (not available as a feed), ``InstrumentNotFoundError`` for
    symbols outside the instrument list and ``DataError`` for unreadable files.
    """
    if settings.source is SourceKind.SYNTHETIC:
        return _synthetic(settings, instruments, clock)
    if settings.source is SourceKind.REPLAY:
        return _replay(settings, instruments, clock)
    if settings.source is SourceKind.KRAKEN:
        return _kraken(settings, instruments, clock)
    raise ConfigurationError(
        f"the {settings.source} source is not available as a market feed; "
        "use source synthetic, replay or kraken"
    )


def _kraken(settings: Settings, instruments: InstrumentRegistry, clock: Clock) -> MarketFeed:
    # Imported here: ccxt is large and only this feed needs it.
    from trading_core.marketdata.kraken_feed import KrakenFeed

    symbols = settings.symbols or settings.synthetic.symbols
    instruments.require(symbols)
    return KrakenFeed(
        symbols,
        _feed_timeframe(settings),
        clock=clock,
        history_bars=settings.mcp.history_bars,
        api_url=settings.kraken.api_url,
    )


def _synthetic(settings: Settings, instruments: InstrumentRegistry, clock: Clock) -> SyntheticFeed:
    symbols = settings.symbols or settings.synthetic.symbols
    instruments.require(symbols)
    return SyntheticFeed(
        symbols,
        seed=settings.seed,
        clock=clock,
        timeframe=_feed_timeframe(settings),
        history_bars=settings.mcp.history_bars,
        start_price=SYNTHETIC_START_PRICES,
        spread_bps=settings.paper.spread_bps,
        tick={symbol: instruments.get(symbol).tick_size for symbol in symbols},
    )


def _replay(settings: Settings, instruments: InstrumentRegistry, clock: Clock) -> ReplayFeed:
    if not settings.data:
        raise ConfigurationError("source replay needs at least one data file (TRADING_DATA)")
    loaded = [load_bars_frame(path) for path in settings.data]
    if settings.symbols:
        in_files = sorted(item.symbol for item in loaded)
        missing = sorted(set(settings.symbols) - set(in_files))
        if missing:
            raise ConfigurationError(
                f"symbols {', '.join(missing)} not in the data files ({', '.join(in_files)})"
            )
        loaded = [item for item in loaded if item.symbol in settings.symbols]
    instruments.require(item.symbol for item in loaded)
    steps = max(len(item.frame) for item in loaded)
    return ReplayFeed(
        loaded,
        market_clock=SimulatedClock(_MARKET_EPOCH),
        wall_clock=clock,
        seconds_per_bar=settings.mcp.replay_seconds_per_bar,
        # Rows before validation: a rough count is enough to keep a short file replayable.
        start_index=min(REPLAY_WARMUP_BARS, steps // 2),
        spread_bps=settings.paper.spread_bps,
        history_bars=settings.mcp.history_bars,
    )


def _feed_timeframe(settings: Settings) -> Timeframe:
    try:
        return Timeframe(settings.mcp.feed_timeframe)
    except ValueError:
        raise ConfigurationError(
            f"mcp.feed_timeframe {settings.mcp.feed_timeframe!r} is not a timeframe "
            f"({', '.join(Timeframe)})"
        ) from None
