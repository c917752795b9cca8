"""A live-ish replay: recorded bars step on with the wall clock, on a market clock of their own."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.errors import DataError, InstrumentNotFoundError
from trading_core.domain.market import Bar, Quote, Timeframe
from trading_core.marketdata.loaders import LoadedFile
from trading_core.marketdata.quotes import quote_around
from trading_core.marketdata.replay import _common_timeframe, _require_unique_symbols
from trading_core.marketdata.synthetic_feed import DEFAULT_HISTORY_BARS
from trading_core.marketdata.validation import QualityReport, validate_frame
from trading_core.ports.clock import Clock


class _SymbolBars:
    """One file's validated bars and their open times (for bisection)."""

    def __init__(self, file_name: str, bars: list[Bar]) -> None:
        self.file_name = file_name
        self.bars = bars
        self.times = [bar.timestamp for bar in bars]

    def up_to(self, moment: datetime) -> int:
        """How many bars open at or before ``moment``."""
        return bisect.bisect_right(self.times, moment)


class _CatchingUpClock:
    def __init__(self, feed: ReplayFeed) -> None:
        self._feed = feed

    def now(self) -> datetime:
        return self._feed._catch_up()


class ReplayFeed:
    """Recorded bars replayed at a pace set by the wall clock (implements ``MarketFeed``).

    The files (as ``load_bars_frame`` returns them, sharing one timeframe, one symbol each) are
    validated and turned into bars when the feed is built. Their open times, merged over all
    symbols, form the timeline. The replay starts on bar ``start_index`` of the timeline
    (earlier bars are the history already seen) and moves on one bar for every
    ``seconds_per_bar`` seconds the wall clock has run since construction.

    Every call first brings the market clock to the close time of the current bar, so the
    current bars are closed and their quotes are zero seconds old in market time; whatever
    runs on ``market_clock`` (orders, risk checks) sees the replayed moment. A symbol with no
    bar at the current step (a gap in its file) keeps its last bar, and its quote keeps that
    bar's close time, so the gap shows as an older quote. When the data ends the feed stays
    on the last bar for good: ``finished`` turns true and quotes go stale as nothing moves.
    """

    def __init__(
        self,
        loaded_files: Sequence[LoadedFile],
        *,
        market_clock: SimulatedClock,
        wall_clock: Clock,
        seconds_per_bar: float,
        start_index: int = 0,
        spread_bps: Decimal,
        history_bars: int = DEFAULT_HISTORY_BARS,
        name: str = "replay",
    ) -> None:
        if not loaded_files:
            raise DataError("a replay needs at least one file")
        if not (math.isfinite(seconds_per_bar) and seconds_per_bar > 0):
            raise DataError(f"seconds_per_bar must be positive: {seconds_per_bar}")
        if spread_bps < 0:
            raise DataError(f"spread must not be negative: {spread_bps} bps")
        if history_bars < 1:
            raise DataError(f"history_bars must be at least 1: {history_bars}")
        self.name = name
        self._timeframe = _common_timeframe(loaded_files)
        _require_unique_symbols(loaded_files)
        self._symbols: dict[str, _SymbolBars] = {}
        self._reports: dict[str, QualityReport] = {}
        for item in sorted(loaded_files, key=lambda loaded: loaded.symbol):
            validated = validate_frame(
                item.frame, symbol=item.symbol, timeframe=self._timeframe, now=None
            )
            if validated.report.accepted == 0:
                raise DataError(f"{item.name}: no valid bars to replay")
            self._symbols[item.symbol] = _SymbolBars(item.name, validated.bars())
            self._reports[item.symbol] = validated.report
        self._timeline = sorted({t for entry in self._symbols.values() for t in entry.times})
        if not 0 <= start_index < len(self._timeline):
            raise DataError(
                f"start_index {start_index} is outside the {len(self._timeline)} replay steps"
            )
        self._market_clock = market_clock
        self._wall_clock = wall_clock
        self._seconds_per_bar = seconds_per_bar
        self._history_bars = history_bars
        self._spread_bps = spread_bps
        self._start_index = self._index = start_index
        self._started = wall_clock.now()
        if market_clock.now() > self._close_time(start_index):
            raise DataError(
                f"the market clock ({market_clock.now().isoformat()}) is already past the "
                f"replay start ({self._close_time(start_index).isoformat()})"
            )
        self._sync()

    @property
    def timeframe(self) -> Timeframe:
        return self._timeframe

    @property
    def clock(self) -> Clock:
        """The market clock, caught up with the wall clock whenever it is read.

        Reading it moves the replay on first, so a reader that only looks at the time (a
        risk check measuring a quote's age) sees the same moment the feed would serve.
        """
        return _CatchingUpClock(self)

    @property
    def steps(self) -> int:
        """How many bars the merged timeline holds."""
        return len(self._timeline)

    @property
    def index(self) -> int:
        """The current position on the timeline (after catching up with the wall clock)."""
        return self._current_index()

    @property
    def finished(self) -> bool:
        """True once the replay has reached the last bar (it stays there)."""
        return self._current_index() == len(self._timeline) - 1

    @property
    def quality_reports(self) -> Mapping[str, QualityReport]:
        """The validation report of each symbol's file."""
        return dict(self._reports)

    def symbols(self) -> Sequence[str]:
        return tuple(self._symbols)

    async def history(self, symbol: str) -> list[Bar]:
        """Bars of ``symbol`` up to the current step, oldest first, at most ``history_bars``."""
        entry = self._entry(symbol)
        end = entry.up_to(self._timeline[self._sync()])
        return entry.bars[max(0, end - self._history_bars) : end]

    async def latest_quote(self, symbol: str) -> Quote:
        """A quote around the close of ``symbol``'s latest replayed bar, stamped at its close.

        For a symbol with a bar at the current step that is the market clock's now (age 0).
        """
        entry = self._entry(symbol)
        current = self._timeline[self._sync()]
        end = entry.up_to(current)
        if end == 0:
            raise DataError(f"no bar of {symbol} at or before {current.isoformat()} yet")
        bar = entry.bars[end - 1]
        return quote_around(
            symbol=symbol,
            price=bar.close,
            spread_bps=self._spread_bps,
            timestamp=bar.close_time,
            source=f"replay:{entry.file_name}",
            volume=bar.volume,
        )

    async def close(self) -> None:
        """Nothing to release: the files were read when the feed was built."""

    def _entry(self, symbol: str) -> _SymbolBars:
        entry = self._symbols.get(symbol)
        if entry is None:
            raise InstrumentNotFoundError(
                f"symbol {symbol!r} is not served by the {self.name} feed "
                f"(it serves {', '.join(self._symbols)})"
            )
        return entry

    def _current_index(self) -> int:
        elapsed = (self._wall_clock.now() - self._started).total_seconds()
        steps = max(0, math.floor(elapsed / self._seconds_per_bar))
        # max(): a wall clock stepped back (NTP) must not rewind the replay.
        self._index = max(self._index, min(self._start_index + steps, len(self._timeline) - 1))
        return self._index

    def _sync(self) -> int:
        index = self._current_index()
        self._market_clock.advance_to(self._close_time(index))
        return index

    def _catch_up(self) -> datetime:
        self._sync()
        return self._market_clock.now()

    def _close_time(self, index: int) -> datetime:
        return self._timeline[index] + self._timeframe.duration
