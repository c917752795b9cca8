"""The report as one self-contained HTML page: inline style, the chart as a data URI, no links."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from decimal import Decimal
from html import escape

from trading_core.portfolio.performance import RoundTrip
from trading_core.reporting.report import BacktestReport, metric_rows

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
p.sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.loss td.pnl { color: #b03a2e; }
tr.win td.pnl { color: #1e8449; }
img { max-width: 100%; height: auto; }
.notes { color: #555; font-size: 0.85rem; }
"""

_NOTES = (
    "Statistics follow empyrical's definitions over the simple returns of the equity sampled "
    "once per bar (365-day years, markets open around the clock): Sharpe and Sortino are "
    "annualised with a zero risk-free rate, the annual return is geometric (CAGR), max drawdown "
    "is a negative fraction of the peak, Calmar is the annual return over |max drawdown|. Win "
    "rate and profit factor count closed round trips (FIFO per symbol, net of commissions); "
    "exposure is the share of periods that began with a position. n/a: undefined for this run."
)

_SIGNIFICANT = 10
_MIN_PLACES = 8

_TRADE_COLUMNS = (
    "#",
    "symbol",
    "side",
    "quantity",
    "entry time",
    "entry price",
    "exit time",
    "exit price",
    "commission",
    "P&L",
)


def render_html(report: BacktestReport, chart_png: bytes) -> str:
    """The page: metrics, chart, run outcome, parameters and every trade, all inline."""
    chart = base64.b64encode(chart_png).decode("ascii")
    metrics = report.metrics
    period = (
        f"{metrics.start:%Y-%m-%d %H:%M} to {metrics.end:%Y-%m-%d %H:%M} UTC, "
        if metrics.start is not None and metrics.end is not None
        else ""
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(report.title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(report.title)}</h1>",
        f'<p class="sub">{escape(period)}{escape(report.timeframe.value)} bars, '
        f"equity in {escape(report.currency)}</p>",
        "<h2>Metrics</h2>",
        _key_values(metric_rows(metrics), css_id="metrics", numeric=True),
        "<h2>Equity and drawdown</h2>",
        f'<img src="data:image/png;base64,{chart}" alt="Equity (top) and drawdown (bottom) '
        f'over time">',
        "<h2>Run</h2>",
        _key_values(report.outcome.items(), css_id="outcome"),
        "<h2>Parameters</h2>",
        _key_values(report.parameters.items(), css_id="parameters"),
        f"<h2>Trades ({len(report.trades)} flat to flat, "
        f"{len(report.closing_fills)} closing fills)</h2>",
        _trades(report.trades),
        f'<p class="notes">{escape(_NOTES)}</p>',
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _key_values(rows: Iterable[tuple[str, str]], *, css_id: str, numeric: bool = False) -> str:
    cell = '<td class="num">' if numeric else "<td>"
    body = "".join(
        f"<tr><th>{escape(key)}</th>{cell}{escape(value)}</td></tr>" for key, value in rows
    )
    return f'<table id="{css_id}">{body}</table>'


def _trades(trades: Sequence[RoundTrip]) -> str:
    if not trades:
        return "<p>No round trips were closed.</p>"
    head = "".join(f"<th>{escape(name)}</th>" for name in _TRADE_COLUMNS)
    rows = [f'<table id="trades"><thead><tr>{head}</tr></thead><tbody>']
    for number, trip in enumerate(trades, start=1):
        outcome = "win" if trip.pnl > 0 else "loss" if trip.pnl < 0 else "flat"
        cells = (
            _num(str(number)),
            f"<td>{escape(trip.symbol)}</td>",
            f"<td>{escape(trip.side.value)}</td>",
            _num(_decimal(trip.quantity)),
            f"<td>{trip.entry_time:%Y-%m-%d %H:%M}</td>",
            _num(_decimal(trip.entry_price)),
            f"<td>{trip.exit_time:%Y-%m-%d %H:%M}</td>",
            _num(_decimal(trip.exit_price)),
            _num(_decimal(trip.commission)),
            f'<td class="num pnl">{escape(_decimal(trip.pnl))}</td>',
        )
        rows.append(f'<tr class="{outcome}">{"".join(cells)}</tr>')
    rows.append("</tbody></table>")
    return "".join(rows)


def _num(text: str) -> str:
    return f'<td class="num">{escape(text)}</td>'


def _decimal(value: Decimal) -> str:
    # Fixed point, never "1E-8"; ten significant digits but at least satoshi precision: these
    # are amounts people read (the CSV keeps every digit).
    places = _MIN_PLACES if value == 0 else max(_MIN_PLACES, _SIGNIFICANT - value.adjusted() - 1)
    rounded = value.quantize(Decimal(1).scaleb(-places))
    return f"{rounded.normalize() if rounded else Decimal(0):f}"
