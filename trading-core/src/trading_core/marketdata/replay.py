"""Replay recorded bar files as a market data source (backtests, demos, live replays)."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.errors import DataError
from trading_core.domain.market import Bar, Quote, Timeframe
from trading_core.marketdata.loaders import LoadedFile, load_bars_frame
from trading_core.marketdata.quotes import quote_around
from trading_core.marketdata.timing import SleepFunction
from trading_core.marketdata.validation import (
    QualityReport,
    ValidatedFrame,
    iter_bars,
    validate_frame,
)


@dataclass(frozen=True)
class _ReplayFile:
    name: str
    validated: ValidatedFrame


class ReplaySource:
    """Bars from one or more files, merged by time (ties by symbol), validated on load.

    Implements ``MarketDataSource``. Files are read and validated when the source is built;
    ``quality_reports`` tells what validation dropped or flagged. ``start`` is inclusive and
    ``end`` exclusive, both on the bar's open time; ``max_bar_times`` keeps the first N open times
    (at most N bars of each symbol: what ``--max-bars`` means); ``max_bars`` caps the bars yielded
    over all symbols. ``now`` drops bars stamped after it (None keeps the whole history).

    With a ``clock``, the clock is set to each bar's close time just before the bar is yielded,
    so whatever runs on the bar sees the moment the bar became known. ``speed`` 0 replays as
    fast as possible; N > 0 waits (via ``sleep``) 1/N of the recorded time between bars.
    """

    def __init__(
        self,
        files: Sequence[LoadedFile | Path],
        *,
        spread_bps: Decimal,
        clock: SimulatedClock | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        max_bars: int | None = None,
        max_bar_times: int | None = None,
        speed: float = 0,
        sleep: SleepFunction = asyncio.sleep,
        now: datetime | None = None,
        name: str = "replay",
    ) -> None:
        if not files:
            raise DataError("a replay needs at least one file")
        if spread_bps < 0:
            raise DataError(f"spread must not be negative: {spread_bps} bps")
        if speed < 0:
            raise DataError(f"replay speed must be 0 (as fast as possible) or positive: {speed}")
        if max_bars is not None and max_bars < 0:
            raise DataError(f"max_bars must not be negative: {max_bars}")
        if max_bar_times is not None and max_bar_times < 0:
            raise DataError(f"max_bar_times must not be negative: {max_bar_times}")
        self.name = name
        self._spread_bps = spread_bps
        self._clock = clock
        self._max_bars = max_bars
        self._speed = speed
        self._sleep = sleep
        loaded = [item if isinstance(item, LoadedFile) else load_bars_frame(item) for item in files]
        self._timeframe = _common_timeframe(loaded)
        _require_unique_symbols(loaded)
        files_in_window = [_prepare(item, now=now, start=start, end=end) for item in loaded]
        self._files = _first_bar_times(files_in_window, max_bar_times)
        self._latest: dict[str, Quote] = {}

    @property
    def timeframe(self) -> Timeframe:
        return self._timeframe

    def symbols(self) -> Sequence[str]:
        return tuple(sorted(item.validated.symbol for item in self._files))

    @property
    def bar_count(self) -> int:
        """Validated bars inside ``start``..``end`` and the first ``max_bar_times`` open times,
        over all files (``max_bars`` not applied)."""
        return sum(len(item.validated.frame) for item in self._files)

    @property
    def quality_reports(self) -> Mapping[str, QualityReport]:
        """The validation report of each symbol's file."""
        return {item.validated.symbol: item.validated.report for item in self._files}

    async def bars(self) -> AsyncIterator[Bar]:
        """Validated bars of every file in (timestamp, symbol) order; each call starts over."""
        streams = [self._file_stream(item) for item in self._files]
        merged = heapq.merge(*streams, key=lambda entry: (entry[1].timestamp, entry[1].symbol))
        previous: datetime | None = None
        for count, (file_name, bar) in enumerate(merged):
            if self._max_bars is not None and count >= self._max_bars:
                return
            if self._speed > 0 and previous is not None and bar.timestamp > previous:
                await self._sleep((bar.timestamp - previous).total_seconds() / self._speed)
            previous = bar.timestamp
            if self._clock is not None:
                self._clock.set(bar.close_time)
            self._latest[bar.symbol] = quote_around(
                symbol=bar.symbol,
                price=bar.close,
                spread_bps=self._spread_bps,
                timestamp=bar.close_time,
                source=f"replay:{file_name}",
                volume=bar.volume,
            )
            yield bar

    async def latest_quote(self, symbol: str) -> Quote | None:
        """A quote around the last close yielded for ``symbol``, stamped at that bar's close."""
        return self._latest.get(symbol)

    async def close(self) -> None:
        """Nothing to release: files are read when the source is built."""

    @staticmethod
    def _file_stream(item: _ReplayFile) -> Iterator[tuple[str, Bar]]:
        validated = item.validated
        for bar in iter_bars(validated.frame, validated.symbol, validated.timeframe):
            yield item.name, bar


def _common_timeframe(loaded: Sequence[LoadedFile]) -> Timeframe:
    timeframes = {item.timeframe for item in loaded}
    if len(timeframes) > 1:
        found = ", ".join(f"{item.name}={item.timeframe}" for item in loaded)
        raise DataError(f"replay files must share one timeframe; found {found}")
    return timeframes.pop()


def _require_unique_symbols(loaded: Sequence[LoadedFile]) -> None:
    seen: dict[str, str] = {}
    for item in loaded:
        if item.symbol in seen:
            raise DataError(
                f"symbol {item.symbol} comes from two files: {seen[item.symbol]} and {item.name}"
            )
        seen[item.symbol] = item.name


def _first_bar_times(files: list[_ReplayFile], count: int | None) -> list[_ReplayFile]:
    """``files`` cut to the first ``count`` distinct open times over all of them (None: all)."""
    if count is None:
        return files
    times = pd.concat([item.validated.frame["time"] for item in files]).drop_duplicates()
    if len(times) <= count:
        return files
    last = times.nsmallest(count).iloc[-1] if count else None
    return [_until(item, last) for item in files]


def _until(item: _ReplayFile, last: datetime | None) -> _ReplayFile:
    """``item`` with the bars opening at or before ``last`` (None: no bar)."""
    validated = item.validated
    frame = validated.frame
    kept = frame.iloc[0:0] if last is None else frame[frame["time"] <= last]
    window = ValidatedFrame(
        frame=kept.reset_index(drop=True),
        report=validated.report,
        symbol=validated.symbol,
        timeframe=validated.timeframe,
    )
    return _ReplayFile(name=item.name, validated=window)


def _prepare(
    item: LoadedFile, *, now: datetime | None, start: datetime | None, end: datetime | None
) -> _ReplayFile:
    validated = validate_frame(item.frame, symbol=item.symbol, timeframe=item.timeframe, now=now)
    frame = validated.frame
    if start is not None:
        frame = frame[frame["time"] >= start]
    if end is not None:
        frame = frame[frame["time"] < end]
    window = ValidatedFrame(
        frame=frame.reset_index(drop=True),
        report=validated.report,
        symbol=validated.symbol,
        timeframe=validated.timeframe,
    )
    return _ReplayFile(name=item.name, validated=window)
