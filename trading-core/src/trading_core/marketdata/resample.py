"""Aggregate bars of one timeframe into a coarser one (1m into 5m, 1h, 1d ...).

Buckets are aligned to calendar boundaries in UTC, the way the loaders bucket trades: fixed
lengths up to a day on multiples of their length since the Unix epoch (so 4h buckets start at
00:00, 04:00, ...), weeks on Mondays, months on the first of the month.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from trading_core.domain.base import ZERO
from trading_core.domain.market import Bar, Timeframe

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_MONDAY = datetime(1970, 1, 5, tzinfo=UTC)
_ONE_DAY = timedelta(days=1)


def bucket_start(moment: datetime, timeframe: Timeframe) -> datetime:
    """The start of the ``timeframe`` bucket holding ``moment`` (timezone-aware)."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    moment = moment.astimezone(UTC)
    if timeframe is Timeframe.MO1:
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    origin = _FIRST_MONDAY if timeframe is Timeframe.W1 else _EPOCH
    step = timeframe.duration
    return origin + ((moment - origin) // step) * step


def bucket_end(start: datetime, timeframe: Timeframe) -> datetime:
    """The end (exclusive) of the bucket that starts at ``start``."""
    if timeframe is Timeframe.MO1:
        year, month = divmod(start.month, 12)  # month 12 -> next year's January
        return start.replace(year=start.year + year, month=month + 1)
    return start + timeframe.duration


def resample(bars: Sequence[Bar], timeframe: Timeframe) -> list[Bar]:
    """``bars`` (one symbol, one timeframe, oldest first) aggregated into ``timeframe``.

    Each output bar takes the first open, the highest high, the lowest low, the last close and
    the summed volume of the input bars whose open time falls in its bucket, and is stamped
    with the bucket's start. Only complete buckets are returned: a bucket is dropped when the
    input starts after the bucket's start (its open would be wrong) or ends before the
    bucket's end (it is still forming, and a bar that can still change would be seen before it
    closed). Missing input bars inside the data (a gap in a recording) do not drop a bucket;
    it aggregates what is there, as ``pandas.DataFrame.resample`` does.

    The same timeframe returns a copy of the input. Raises ``ValueError`` for a finer
    timeframe, for one the input's timeframe does not divide (weeks into months), and for
    input that mixes symbols or timeframes or is not in strictly increasing time order.
    """
    if not bars:
        return []
    source = _check_input(bars)
    _check_coarser(source, timeframe)
    if source is timeframe:
        return list(bars)
    out = [
        _aggregate(list(group), start, timeframe)
        for start, group in itertools.groupby(
            bars, key=lambda bar: bucket_start(bar.timestamp, timeframe)
        )
    ]
    if bars[0].timestamp > out[0].timestamp:
        out.pop(0)
    if out and bars[-1].close_time < bucket_end(out[-1].timestamp, timeframe):
        out.pop()
    return out


def _check_input(bars: Sequence[Bar]) -> Timeframe:
    first = bars[0]
    for previous, bar in itertools.pairwise(bars):
        if bar.symbol != first.symbol or bar.timeframe is not first.timeframe:
            raise ValueError(
                f"resample needs bars of one symbol and timeframe; found {first.symbol} "
                f"{first.timeframe} and {bar.symbol} {bar.timeframe}"
            )
        if bar.timestamp <= previous.timestamp:
            raise ValueError(
                f"bars must be in strictly increasing time order: {bar.timestamp.isoformat()} "
                f"follows {previous.timestamp.isoformat()}"
            )
    return first.timeframe


def _check_coarser(source: Timeframe, target: Timeframe) -> None:
    if target.duration < source.duration:
        raise ValueError(
            f"cannot resample {source} bars to the finer timeframe {target}: "
            "resampling only aggregates"
        )
    if source is target:
        return
    if target is Timeframe.MO1:
        # Months have no fixed length: only bars that never straddle midnight fit in them.
        divides = source.duration <= _ONE_DAY
    else:
        divides = source is not Timeframe.MO1 and target.duration % source.duration == timedelta(0)
    if not divides:
        raise ValueError(f"cannot resample {source} bars to {target}: {source} does not divide it")


def _aggregate(group: list[Bar], start: datetime, timeframe: Timeframe) -> Bar:
    return Bar(
        symbol=group[0].symbol,
        timeframe=timeframe,
        timestamp=start,
        open=group[0].open,
        high=max(bar.high for bar in group),
        low=min(bar.low for bar in group),
        close=group[-1].close,
        volume=sum((bar.volume for bar in group), ZERO),
    )
