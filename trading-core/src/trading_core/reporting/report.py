"""What a backtest report holds, built from a run's fills and bars with the portfolio maths.

The equity curve is :func:`trading_core.portfolio.equity_curve.equity_curve` on the bars'
timeframe, the statistics :func:`trading_core.portfolio.performance.performance` over it
(empyrical's definitions, one period per bar, the exposure flags of the curve) and the trades
:func:`trading_core.portfolio.performance.round_trips` of the fills.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final, Literal

from pydantic import Field

from trading_core.domain.base import Frozen
from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar, Timeframe
from trading_core.portfolio.equity_curve import EquityPoint, equity_curve
from trading_core.portfolio.performance import (
    PerformanceReport,
    RoundTrip,
    flat_to_flat,
    performance,
    periods_per_year,
    round_trips,
)

MetricKind = Literal["return", "share", "ratio", "count"]

METRICS: Final[tuple[tuple[str, str, MetricKind], ...]] = (
    ("total_return", "Total return", "return"),
    ("annual_return", "Annual return (CAGR)", "return"),
    ("sharpe", "Sharpe ratio", "ratio"),
    ("sortino", "Sortino ratio", "ratio"),
    ("calmar", "Calmar ratio", "ratio"),
    ("max_drawdown", "Max drawdown", "return"),
    ("win_rate", "Win rate", "share"),
    ("profit_factor", "Profit factor", "ratio"),
    ("trade_count", "Trades (flat to flat)", "count"),
    ("exposure_time", "Exposure time", "share"),
    ("periods", "Periods (bars)", "count"),
)
"""The statistics a report shows, in order: field of PerformanceReport, label, how to format."""


class BacktestReport(Frozen):
    """Everything the report files show; ``parameters`` are the run's inputs, ``outcome`` its
    closing numbers (both already formatted for people)."""

    title: str
    currency: str
    timeframe: Timeframe
    parameters: dict[str, str]
    outcome: dict[str, str]
    metrics: PerformanceReport
    equity: list[EquityPoint]
    trades: list[RoundTrip]
    """Flat-to-flat trades (what win rate and profit factor count, as backtesting.py does)."""
    closing_fills: list[RoundTrip] = Field(default_factory=list)
    """One trip per fill that closed a position, in whole or in part (the FIFO view)."""


def build_report(
    fills: Sequence[Fill],
    bars: Mapping[str, Sequence[Bar]],
    *,
    initial_cash: Decimal,
    currency: str,
    timeframe: Timeframe,
    title: str,
    parameters: Mapping[str, str] | None = None,
    outcome: Mapping[str, str] | None = None,
) -> BacktestReport:
    """The report of an account that began with ``initial_cash`` and made ``fills``."""
    curve = equity_curve(fills, bars, initial_cash=initial_cash, resolution=timeframe)
    return report_from_curve(
        curve,
        flat_to_flat(fills),
        closing_fills=round_trips(fills),
        currency=currency,
        timeframe=timeframe,
        title=title,
        parameters=parameters,
        outcome=outcome,
    )


def report_from_curve(
    curve: Sequence[EquityPoint],
    trades: Sequence[RoundTrip],
    *,
    currency: str,
    timeframe: Timeframe,
    title: str,
    parameters: Mapping[str, str] | None = None,
    outcome: Mapping[str, str] | None = None,
    closing_fills: Sequence[RoundTrip] | None = None,
) -> BacktestReport:
    """The report of an equity curve sampled every ``timeframe`` and its trades (flat to flat;
    ``closing_fills`` the per-closing-fill trips, by default the same list)."""
    metrics = performance(
        [(point.timestamp, point.equity) for point in curve],
        [trip.pnl for trip in trades],
        periods_per_year=periods_per_year(timeframe.duration.total_seconds()),
        exposure=[point.exposed for point in curve],
    )
    return BacktestReport(
        title=title,
        currency=currency,
        timeframe=timeframe,
        parameters=dict(parameters or {}),
        outcome=dict(outcome or {}),
        metrics=metrics,
        equity=list(curve),
        trades=list(trades),
        closing_fills=list(trades if closing_fills is None else closing_fills),
    )


def format_metric(value: float | int | None, kind: MetricKind) -> str:
    """A statistic for people: percentages with two decimals (returns signed), ratios with
    three, n/a for None (undefined)."""
    if value is None:
        return "n/a"
    if kind == "count":
        return f"{value:,}"
    if kind == "share" or (kind == "return" and value == 0):
        return f"{value:.2%}"
    if kind == "return":
        return f"{value:+.2%}"
    return f"{value:.3f}"


def metric_kind(name: str) -> MetricKind:
    """How the statistic ``name`` (a field of PerformanceReport) is formatted."""
    for field, _, kind in METRICS:
        if field == name:
            return kind
    raise KeyError(name)


def metric_rows(metrics: PerformanceReport) -> list[tuple[str, str]]:
    """(label, formatted value) of every statistic in :data:`METRICS`."""
    values = metrics.model_dump()
    return [(label, format_metric(values[name], kind)) for name, label, kind in METRICS]


def render_metrics(report: BacktestReport) -> str:
    """The statistics as an indented block for a terminal."""
    rows = metric_rows(report.metrics)
    rows.append(("Closing fills", format_metric(len(report.closing_fills), "count")))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}} : {value}" for label, value in rows)
