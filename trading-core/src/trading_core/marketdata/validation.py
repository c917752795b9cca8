"""Data-quality rules applied once, on ingest, before bars reach the rest of the system.

Rules, in the order they apply:

1. missing or non-finite values: dropped;
2. a price (open, high, low, close) not above zero: dropped;
3. a negative volume: dropped;
4. high and low that do not bracket open and close: dropped;
5. a timestamp after ``now``: dropped (None skips the rule, e.g. for a historical replay);
6. several rows for one timestamp: the last in file order is kept, the others dropped;
7. a jump of more than ``gap_threshold`` (10 %) from the previous close to this open or this
   close: flagged in the report, kept.

The row-level rules run before de-duplication so a broken late row cannot evict a good one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise

import numpy as np
import pandas as pd

from trading_core.domain.base import Frozen, UtcDatetime
from trading_core.domain.market import Bar, Timeframe
from trading_core.marketdata.loaders import BAR_COLUMNS

DEFAULT_GAP_THRESHOLD = Decimal("0.10")
MAX_EXAMPLES = 3
_FLOAT_SLACK = 1e-9


class DropReason(StrEnum):
    MISSING_VALUE = "missing_value"
    NON_POSITIVE_PRICE = "non_positive_price"
    NEGATIVE_VOLUME = "negative_volume"
    HIGH_LOW_INCONSISTENT = "high_low_inconsistent"
    FUTURE_TIMESTAMP = "future_timestamp"
    DUPLICATE_TIMESTAMP = "duplicate_timestamp"


class DroppedRows(Frozen):
    """How many rows one rule dropped, with a few examples (``row N <time>: values``)."""

    reason: DropReason
    count: int
    examples: tuple[str, ...]


class PriceGap(Frozen):
    """A bar whose open or close moved more than the threshold from the previous close."""

    timestamp: UtcDatetime
    previous_close: Decimal
    open: Decimal
    close: Decimal
    open_jump: float
    """(open / previous close) - 1."""
    close_jump: float
    """(close / previous close) - 1."""


class QualityReport(Frozen):
    """What validation did to one symbol's rows."""

    symbol: str
    total_rows: int
    accepted: int
    dropped: tuple[DroppedRows, ...]
    gaps: tuple[PriceGap, ...]

    @property
    def total_dropped(self) -> int:
        return sum(entry.count for entry in self.dropped)

    def dropped_count(self, reason: DropReason) -> int:
        return sum(entry.count for entry in self.dropped if entry.reason is reason)


@dataclass(frozen=True)
class ValidatedFrame:
    """Clean rows sorted by time, one per timestamp, and the report of what was removed."""

    frame: pd.DataFrame
    report: QualityReport
    symbol: str
    timeframe: Timeframe

    def bars(self) -> list[Bar]:
        """The clean rows as domain bars."""
        return frame_to_bars(self.frame, self.symbol, self.timeframe)


def validate_frame(
    frame: pd.DataFrame,
    *,
    symbol: str,
    timeframe: Timeframe,
    now: datetime | None,
    gap_threshold: Decimal = DEFAULT_GAP_THRESHOLD,
) -> ValidatedFrame:
    """Apply the ingest rules to a frame with columns ``BAR_COLUMNS`` (pure: input untouched)."""
    data = frame.loc[:, list(BAR_COLUMNS)].reset_index(drop=True)
    total = len(data)
    values = data[list(BAR_COLUMNS[1:])].to_numpy(dtype="float64", na_value=np.nan)
    opens, highs, lows, closes, volumes = values.T
    with np.errstate(invalid="ignore"):
        rules = [
            (DropReason.MISSING_VALUE, ~np.isfinite(values).all(axis=1) | data["time"].isna()),
            (DropReason.NON_POSITIVE_PRICE, (values[:, :4] <= 0).any(axis=1)),
            (DropReason.NEGATIVE_VOLUME, volumes < 0),
            (
                DropReason.HIGH_LOW_INCONSISTENT,
                (lows > np.minimum(opens, closes)) | (highs < np.maximum(opens, closes)),
            ),
        ]
    if now is not None:
        rules.append((DropReason.FUTURE_TIMESTAMP, (data["time"] > now).to_numpy()))
    keep = np.ones(total, dtype=bool)
    dropped: list[DroppedRows] = []
    for reason, mask in rules:
        hits = np.asarray(mask, dtype=bool) & keep
        keep &= ~hits
        _record(dropped, reason, data, hits)
    duplicated = np.zeros(total, dtype=bool)
    duplicated[keep] = data["time"][keep].duplicated(keep="last").to_numpy()
    _record(dropped, DropReason.DUPLICATE_TIMESTAMP, data, duplicated)
    keep &= ~duplicated
    clean = data[keep].sort_values("time", kind="stable").reset_index(drop=True)
    gaps = _find_gaps(clean, gap_threshold)
    report = QualityReport(
        symbol=symbol, total_rows=total, accepted=len(clean), dropped=tuple(dropped), gaps=gaps
    )
    return ValidatedFrame(frame=clean, report=report, symbol=symbol, timeframe=timeframe)


def validate_bars(
    bars: Sequence[Bar],
    *,
    now: datetime | None,
    gap_threshold: Decimal = DEFAULT_GAP_THRESHOLD,
) -> tuple[list[Bar], QualityReport]:
    """The same rules for bars already built (the model enforces rules 1-4) of one symbol."""
    symbol = bars[0].symbol if bars else ""
    dropped: list[DroppedRows] = []
    future = [bar for bar in bars if now is not None and bar.timestamp > now]
    _record_bars(dropped, DropReason.FUTURE_TIMESTAMP, future)
    latest: dict[datetime, Bar] = {}
    duplicates: list[Bar] = []
    for bar in bars:
        if now is not None and bar.timestamp > now:
            continue
        if bar.timestamp in latest:
            duplicates.append(latest[bar.timestamp])
        latest[bar.timestamp] = bar
    _record_bars(dropped, DropReason.DUPLICATE_TIMESTAMP, duplicates)
    clean = [latest[moment] for moment in sorted(latest)]
    gaps: list[PriceGap] = []
    for previous, bar in pairwise(clean):
        gap = _gap_if_flagged(bar.timestamp, previous.close, bar.open, bar.close, gap_threshold)
        if gap is not None:
            gaps.append(gap)
    report = QualityReport(
        symbol=symbol,
        total_rows=len(bars),
        accepted=len(clean),
        dropped=tuple(dropped),
        gaps=tuple(gaps),
    )
    return clean, report


def frame_to_bars(frame: pd.DataFrame, symbol: str, timeframe: Timeframe) -> list[Bar]:
    """Domain bars from a validated frame; floats become Decimals through their repr."""
    return list(iter_bars(frame, symbol, timeframe))


def iter_bars(frame: pd.DataFrame, symbol: str, timeframe: Timeframe) -> Iterator[Bar]:
    """Like ``frame_to_bars`` but builds each bar only when asked (long replays)."""
    times = frame["time"].dt.to_pydatetime().tolist()
    columns = [frame[name].to_numpy(dtype="float64").tolist() for name in BAR_COLUMNS[1:]]
    for moment, open_, high, low, close, volume in zip(times, *columns, strict=True):
        yield Bar(
            symbol=symbol,
            timeframe=timeframe,
            timestamp=moment,
            open=to_decimal(open_),
            high=to_decimal(high),
            low=to_decimal(low),
            close=to_decimal(close),
            volume=to_decimal(volume),
        )


def to_decimal(value: float) -> Decimal:
    """Decimal of a float's shortest repr, so 0.1 becomes Decimal('0.1')."""
    return Decimal(repr(float(value)))


def _record(
    dropped: list[DroppedRows], reason: DropReason, data: pd.DataFrame, hits: np.ndarray
) -> None:
    rows = np.flatnonzero(hits)
    if len(rows) == 0:
        return
    examples = tuple(_describe_row(data, int(row)) for row in rows[:MAX_EXAMPLES])
    dropped.append(DroppedRows(reason=reason, count=len(rows), examples=examples))


def _record_bars(dropped: list[DroppedRows], reason: DropReason, bars: Sequence[Bar]) -> None:
    if bars:
        examples = tuple(
            f"{bar.timestamp.isoformat()} o={bar.open} h={bar.high} l={bar.low} c={bar.close}"
            for bar in bars[:MAX_EXAMPLES]
        )
        dropped.append(DroppedRows(reason=reason, count=len(bars), examples=examples))


def _describe_row(data: pd.DataFrame, row: int) -> str:
    values = data.iloc[row]
    moment = values["time"]
    stamp = moment.isoformat() if isinstance(moment, pd.Timestamp) else str(moment)
    return (
        f"row {row + 1} {stamp} o={values['open']} h={values['high']} "
        f"l={values['low']} c={values['close']} v={values['volume']}"
    )


def _find_gaps(clean: pd.DataFrame, threshold: Decimal) -> tuple[PriceGap, ...]:
    if len(clean) < 2:
        return ()
    closes = clean["close"].to_numpy(dtype="float64")
    opens = clean["open"].to_numpy(dtype="float64")
    previous = closes[:-1]
    biggest = np.maximum(np.abs(opens[1:] / previous - 1), np.abs(closes[1:] / previous - 1))
    # Floats pre-select; Decimals decide, so a move of exactly 10 % is not flagged by rounding.
    candidates = np.flatnonzero(biggest > float(threshold) - _FLOAT_SLACK)
    times = clean["time"]
    gaps = (
        _gap_if_flagged(
            times.iloc[index + 1].to_pydatetime(),
            to_decimal(previous[index]),
            to_decimal(opens[index + 1]),
            to_decimal(closes[index + 1]),
            threshold,
        )
        for index in candidates
    )
    return tuple(gap for gap in gaps if gap is not None)


def _gap_if_flagged(
    moment: datetime, previous_close: Decimal, open_: Decimal, close: Decimal, threshold: Decimal
) -> PriceGap | None:
    open_jump = open_ / previous_close - 1
    close_jump = close / previous_close - 1
    if max(abs(open_jump), abs(close_jump)) <= threshold:
        return None
    return PriceGap(
        timestamp=moment,
        previous_close=previous_close,
        open=open_,
        close=close,
        open_jump=float(open_jump),
        close_jump=float(close_jump),
    )
