"""Market data: quotes and OHLCV bars."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import model_validator

from trading_core.domain.base import Frozen, NonNegativeDecimal, PositiveDecimal, UtcDatetime


class Timeframe(StrEnum):
    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"
    W1 = "1w"
    MO1 = "1M"

    @property
    def duration(self) -> timedelta:
        """Nominal length of one bar (a month counts as 30 days)."""
        return _DURATIONS[self]


_DURATIONS = {
    Timeframe.M1: timedelta(minutes=1),
    Timeframe.M5: timedelta(minutes=5),
    Timeframe.M15: timedelta(minutes=15),
    Timeframe.M30: timedelta(minutes=30),
    Timeframe.H1: timedelta(hours=1),
    Timeframe.H4: timedelta(hours=4),
    Timeframe.D1: timedelta(days=1),
    Timeframe.W1: timedelta(weeks=1),
    Timeframe.MO1: timedelta(days=30),
}


class Bar(Frozen):
    """One OHLCV candle; ``timestamp`` is the bar's open time, ``close_time`` when it is final."""

    symbol: str
    timeframe: Timeframe
    timestamp: UtcDatetime
    open: PositiveDecimal
    high: PositiveDecimal
    low: PositiveDecimal
    close: PositiveDecimal
    volume: NonNegativeDecimal

    @model_validator(mode="after")
    def _ohlc_consistent(self) -> Bar:
        if self.low > min(self.open, self.close) or self.high < max(self.open, self.close):
            raise ValueError("high/low do not bracket open and close")
        return self

    @property
    def close_time(self) -> datetime:
        return self.timestamp + self.timeframe.duration


class Quote(Frozen):
    """Best bid/ask and last trade at a moment, from a named source."""

    symbol: str
    bid: PositiveDecimal
    ask: PositiveDecimal
    last: PositiveDecimal
    volume: NonNegativeDecimal = Decimal(0)
    timestamp: UtcDatetime
    source: str

    @model_validator(mode="after")
    def _not_crossed(self) -> Quote:
        if self.bid > self.ask:
            raise ValueError("crossed quote: bid above ask")
        return self

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    def age_seconds(self, now: datetime) -> float:
        return (now - self.timestamp).total_seconds()
