"""A run's time series for InfluxDB: its bars, equity, fills and decisions as points.

Measurements (tags; fields), each at its market time:

- ``bars`` (symbol, timeframe; open, high, low, close, volume), at the bar's open;
- ``equity`` (account; equity, cash, drawdown_ratio, daily_pnl_ratio), after each slice of bars,
  ratios as fractions (0.05 is 5 %) like the Prometheus gauges;
- ``fills`` (symbol, side, account; quantity, price, fee, fill_id), at the fill;
- ``decisions`` (decision_type, symbol; count = 1, latency_seconds where known), at the decision.

Decimals are sent digit for digit (InfluxDB keeps 64-bit floats: a chart's precision; the books
are in the database). Two fills (or decisions) of one series at the same instant would replace
each other in InfluxDB, so the later one is moved a microsecond on ("Handle duplicate data
points", InfluxDB v2 docs: increment the timestamp; a microsecond is the finest step a
``datetime`` has). Nothing here raises into the run: a point that cannot be built is logged and
left out.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from prometheus_client import CollectorRegistry

from trading_core.adapters.influx import FieldValue, InfluxWriter, Point
from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar
from trading_core.domain.portfolio import Portfolio
from trading_core.domain.signal import Decision
from trading_core.settings import InfluxSettings

log = logging.getLogger(__name__)

HUNDRED = Decimal(100)
_T = TypeVar("_T")


def bar_point(bar: Bar) -> Point:
    return Point(
        "bars",
        {"symbol": bar.symbol, "timeframe": str(bar.timeframe)},
        {
            "open": bar.open,
            "high": bar.high,
            "low": bar.low,
            "close": bar.close,
            "volume": bar.volume,
        },
        bar.timestamp,
    )


def equity_point(portfolio: Portfolio, *, account: str, at: datetime) -> Point:
    return Point(
        "equity",
        {"account": account},
        {
            "equity": portfolio.equity,
            "cash": portfolio.cash,
            "drawdown_ratio": portfolio.drawdown_pct / HUNDRED,
            "daily_pnl_ratio": portfolio.daily_pnl_pct / HUNDRED,
        },
        at,
    )


def fill_point(fill: Fill) -> Point:
    return Point(
        "fills",
        {"symbol": fill.symbol, "side": str(fill.side), "account": fill.account},
        {
            "quantity": fill.quantity,
            "price": fill.price,
            "fee": fill.commission,
            "fill_id": fill.fill_id,
        },
        fill.timestamp,
    )


def decision_point(decision: Decision, *, latency_seconds: float | None = None) -> Point:
    fields: dict[str, FieldValue] = {"count": 1}
    if latency_seconds is not None:
        fields["latency_seconds"] = latency_seconds
    return Point(
        "decisions",
        {"decision_type": str(decision.decision_type), "symbol": decision.symbol},
        fields,
        decision.timestamp,
    )


class InfluxRecorder:
    """Turns a run's events into points for an :class:`InfluxWriter` (a ``RunObserver`` too)."""

    def __init__(self, writer: InfluxWriter) -> None:
        self.writer = writer
        self._last: dict[tuple[str, tuple[tuple[str, str], ...]], datetime] = {}

    def on_bar(self, bar: Bar) -> None:
        self._write(bar_point, bar)

    def on_fill(self, fill: Fill) -> None:
        self._write(fill_point, fill, unique=True)

    def on_decision(self, decision: Decision) -> None:
        self._write(decision_point, decision, unique=True)

    def on_equity(self, portfolio: Portfolio, *, account: str, at: datetime) -> None:
        try:
            point = equity_point(portfolio, account=account, at=at)
        except (ArithmeticError, ValueError) as exc:
            log.warning("equity point not recorded: %s", exc)
            return
        self.writer.write(point)

    def _write(self, build: Callable[[_T], Point], item: _T, *, unique: bool = False) -> None:
        try:
            point = build(item)
        except (ArithmeticError, ValueError) as exc:
            log.warning("%s not recorded in InfluxDB: %s", type(item).__name__, exc)
            return
        self.writer.write(self._unique(point) if unique else point)

    def _unique(self, point: Point) -> Point:
        """``point``, moved a microsecond past the last point of its series if it would
        replace it."""
        series = point.series()
        last = self._last.get(series)
        moment = point.time
        if last is not None and moment <= last:
            moment = last + _STEP
            point = Point(point.measurement, point.tags, point.fields, moment)
        self._last[series] = moment
        return point


_STEP = timedelta(microseconds=1)


@asynccontextmanager
async def influx_recording(
    settings: InfluxSettings, registry: CollectorRegistry
) -> AsyncIterator[InfluxRecorder | None]:
    """An :class:`InfluxRecorder` writing to ``settings.url`` while open (its points sent, or
    counted as dropped, when it closes); None when no URL is configured."""
    if not settings.url:
        yield None
        return
    writer = InfluxWriter(
        url=settings.url,
        org=settings.org,
        bucket=settings.bucket,
        token=settings.token,
        registry=registry,
        batch_size=settings.batch_size,
        flush_seconds=settings.flush_seconds,
        buffer_points=settings.buffer_points,
    )
    async with writer:
        yield InfluxRecorder(writer)
