"""Write a backtest report to a directory: metrics.json, trades.csv, equity.png, report.html."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Final

from trading_core.domain.errors import ConfigurationError
from trading_core.portfolio.performance import RoundTrip
from trading_core.reporting.chart import equity_chart_png
from trading_core.reporting.html_page import render_html
from trading_core.reporting.report import BacktestReport
from trading_core.reporting.rounding import TickOf, round_payload

METRICS_FILE: Final = "metrics.json"
TRADES_FILE: Final = "trades.csv"
CHART_FILE: Final = "equity.png"
HTML_FILE: Final = "report.html"
TRADE_FIELDS: Final = tuple(RoundTrip.model_fields)


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """Where each part of a written report is."""

    metrics: Path
    trades: Path
    chart: Path
    html: Path

    def all(self) -> tuple[Path, ...]:
        return (self.metrics, self.trades, self.chart, self.html)


def check_report_dir(directory: Path) -> None:
    """Refuse a report directory that cannot be one, before a run writes anything.

    The directory itself may not exist yet; it, or its nearest existing ancestor, must be a
    directory.
    """
    for candidate in (directory, *directory.absolute().parents):
        if candidate.exists():
            if not candidate.is_dir():
                what = "is" if candidate == directory else f"is under {candidate}, which is"
                raise ConfigurationError(f"report directory {directory} {what} not a directory")
            return


def write_report(
    report: BacktestReport, directory: Path, *, tick_of: TickOf | None = None
) -> ReportFiles:
    """Render every part first, then write the four files into ``directory`` (created if needed).

    ``tick_of`` gives each instrument's tick, the places its prices show in trades.csv.
    """
    check_report_dir(directory)
    chart = equity_chart_png(report.equity, title=report.title, currency=report.currency)
    contents: dict[str, str | bytes] = {
        METRICS_FILE: metrics_json(report),
        TRADES_FILE: trades_csv(report.trades, currency=report.currency, tick_of=tick_of),
        CHART_FILE: chart,
        HTML_FILE: render_html(report, chart),
    }
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, content in contents.items():
            path = directory / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", newline="")
    except OSError as exc:
        raise ConfigurationError(f"cannot write the report to {directory}: {exc}") from exc
    return ReportFiles(
        metrics=directory / METRICS_FILE,
        trades=directory / TRADES_FILE,
        chart=directory / CHART_FILE,
        html=directory / HTML_FILE,
    )


def metrics_json(report: BacktestReport) -> str:
    """``metrics`` (the PerformanceReport, None for undefined), ``parameters`` and ``outcome``."""
    document = {
        "metrics": report.metrics.model_dump(mode="json"),
        "currency": report.currency,
        "timeframe": report.timeframe.value,
        "closing_fills": len(report.closing_fills),
        "parameters": report.parameters,
        "outcome": report.outcome,
    }
    return json.dumps(document, indent=2) + "\n"


def trades_csv(trades: list[RoundTrip], *, currency: str, tick_of: TickOf | None = None) -> str:
    """One row per round trip, columns :data:`TRADE_FIELDS`.

    Commission and P&L show their currency's places, prices their tick's (the policy of
    :mod:`trading_core.reporting.rounding`); quantities are exact.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TRADE_FIELDS, lineterminator="\n")
    writer.writeheader()
    for trip in trades:
        row = round_payload(trip.model_dump(), currency=currency, tick_of=tick_of)
        writer.writerow({name: _cell(value) for name, value in row.items()})
    return buffer.getvalue()


def _cell(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value:f}"  # every digit, never "4.5E-7": spreadsheets read this too
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
