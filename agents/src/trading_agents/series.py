"""Bars as float arrays: the form every alpha computes on (one conversion per evaluation)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trading_core.domain.market import Bar
from trading_core.marketdata.indicators import FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class BarSeries:
    """OHLCV columns of one symbol's recent bars, oldest first, as float64 arrays."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    @classmethod
    def from_bars(cls, bars: Sequence[Bar]) -> BarSeries:
        """Columns of ``bars`` (Decimal prices become floats: alphas are float maths)."""
        rows = np.array(
            [(bar.open, bar.high, bar.low, bar.close, bar.volume) for bar in bars],
            dtype=np.float64,
        ).reshape(len(bars), 5)
        return cls(
            open=rows[:, 0].copy(),
            high=rows[:, 1].copy(),
            low=rows[:, 2].copy(),
            close=rows[:, 3].copy(),
            volume=rows[:, 4].copy(),
        )

    def __len__(self) -> int:
        return len(self.close)


_memo: tuple[tuple[Bar, ...], BarSeries] | None = None


def series_of(bars: Sequence[Bar]) -> BarSeries:
    """``BarSeries.from_bars(bars)``, remembered for the last tuple of bars converted.

    Every agent of the committee sees the same context on a bar; converting its bars once
    rather than once per agent and filter saves most of an evaluation's time. Only tuples are
    remembered (immutable: the same object always holds the same bars); the entry is the last
    object itself, compared by identity, so no other sequence can be mistaken for it.
    """
    global _memo
    if _memo is not None and _memo[0] is bars:
        return _memo[1]
    series = BarSeries.from_bars(bars)
    if isinstance(bars, tuple):
        _memo = (bars, series)
    return series
