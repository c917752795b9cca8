"""Bars as float arrays: the form every alpha computes on (one conversion per evaluation)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

import numpy as np

from trading_core.domain.market import Bar
from trading_core.marketdata.indicators import FloatArray

T = TypeVar("T")

MEMO_SYMBOLS = 64
"""Symbols whose latest series ``series_of`` keeps (a replay interleaves its symbols)."""


@dataclass(frozen=True, slots=True, eq=False)
class BarSeries:
    """OHLCV columns of one symbol's recent bars, oldest first, as float64 arrays.

    A series is shared by every agent evaluating the same bars (``series_of``), together with
    what ``derived`` has computed from it: nothing may modify its arrays (those it converts
    itself are read-only).
    """

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    _derived: dict[Hashable, object] = field(default_factory=dict, repr=False)

    @classmethod
    def from_bars(cls, bars: Sequence[Bar]) -> BarSeries:
        """Columns of ``bars`` (Decimal prices become floats: alphas are float maths)."""
        open_, high, low, close, volume = _columns(bars)
        return cls(open_, high, low, close, volume)

    def __len__(self) -> int:
        return len(self.close)

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, remembered under ``key`` for the life of this series.

        Several agents (and their trade filters) ask for the same indicator of the same bars,
        e.g. the ATR: it is computed once. ``key`` must name the computation and every
        parameter it depends on; what is returned must not be modified.
        """
        try:
            return cast(T, self._derived[key])
        except KeyError:
            value = compute()
            self._derived[key] = value
            return value


def _columns(bars: Sequence[Bar]) -> list[FloatArray]:
    """Open, high, low, close and volume of ``bars`` (read-only arrays)."""
    rows = np.array(
        [(bar.open, bar.high, bar.low, bar.close, bar.volume) for bar in bars],
        dtype=np.float64,
    ).reshape(len(bars), 5)
    return [_read_only(rows[:, column].copy()) for column in range(5)]


def _read_only(array: FloatArray) -> FloatArray:
    array.flags.writeable = False
    return array


_memo: dict[str, tuple[tuple[Bar, ...], BarSeries]] = {}


def series_of(bars: Sequence[Bar]) -> BarSeries:
    """``BarSeries.from_bars(bars)``, remembered per symbol for the last tuple converted.

    Every agent of the committee sees the same context on a bar: the tuple is converted once,
    and the agents share the series (and its ``derived`` values). Only tuples are remembered
    (immutable: the same object always holds the same bars), and a hit is the same object.

    On the next bar the orchestrator's tuple is the previous one with the newest bar added
    (and, once full, the oldest dropped): when all but the last bar are, one by one, the
    same objects as the end of the remembered tuple, only the new bar is converted and the
    remembered columns are reused. Decimal to float is exact to the same float either way.
    """
    if not isinstance(bars, tuple) or not bars:
        return BarSeries.from_bars(bars)
    symbol = bars[-1].symbol
    remembered = _memo.get(symbol)
    if remembered is not None and remembered[0] is bars:
        return remembered[1]
    series = _extended(remembered, bars) if remembered is not None else None
    if series is None:
        series = BarSeries.from_bars(bars)
    _memo.pop(symbol, None)
    if len(_memo) >= MEMO_SYMBOLS:
        del _memo[next(iter(_memo))]  # the symbol not seen for longest
    _memo[symbol] = (bars, series)
    return series


def _extended(
    remembered: tuple[tuple[Bar, ...], BarSeries], bars: tuple[Bar, ...]
) -> BarSeries | None:
    """The series of ``bars`` from the remembered one when ``bars[:-1]`` ends it; else None."""
    previous, series = remembered
    kept = len(bars) - 1
    dropped = len(previous) - kept
    if dropped not in (0, 1) or not all(map(operator.is_, bars[:-1], previous[dropped:])):
        return None
    newest = bars[-1]
    # np.array converts each Decimal with float(), as _columns does.
    values = (newest.open, newest.high, newest.low, newest.close, newest.volume)
    columns = (series.open, series.high, series.low, series.close, series.volume)
    open_, high, low, close, volume = (
        _appended(column, dropped, float(value))
        for column, value in zip(columns, values, strict=True)
    )
    return BarSeries(open_, high, low, close, volume)


def _appended(column: FloatArray, dropped: int, value: float) -> FloatArray:
    out = np.empty(len(column) - dropped + 1)
    out[:-1] = column[dropped:]
    out[-1] = value
    return _read_only(out)
