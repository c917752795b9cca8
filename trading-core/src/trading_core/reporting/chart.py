"""The equity and drawdown chart as PNG bytes (matplotlib, Agg canvas, no pyplot state)."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from datetime import UTC

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from trading_core.portfolio.equity_curve import EquityPoint

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_EQUITY_COLOUR = "#1f5fa8"
_DRAWDOWN_COLOUR = "#c0392b"
_TITLE_WIDTH = 100


def equity_chart_png(
    points: Sequence[EquityPoint], *, title: str, currency: str, dpi: int = 100
) -> bytes:
    """Two stacked panels sharing the time axis: equity above, drawdown (in %) below.

    The PNG carries no software stamp, so the same curve always gives the same bytes.
    """
    figure = Figure(figsize=(11, 6.5), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)  # the canvas a Figure draws on: Agg, whatever backend is configured
    equity_axes, drawdown_axes = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1)}
    )
    figure.suptitle(textwrap.fill(title, _TITLE_WIDTH))  # many symbols: wrap, don't cut
    equity_axes.set_title("Equity and drawdown", fontsize="medium")
    equity_axes.set_ylabel(f"equity ({currency})")
    drawdown_axes.set_ylabel("drawdown (%)")
    drawdown_axes.set_xlabel("time (UTC)")
    for axes in (equity_axes, drawdown_axes):
        axes.grid(True, alpha=0.3)
    if points:
        times = [point.timestamp for point in points]
        equity = [float(point.equity) for point in points]
        drawdown = [-float(point.drawdown_pct) for point in points]
        equity_axes.plot(times, equity, color=_EQUITY_COLOUR, linewidth=1.2)
        equity_axes.axhline(equity[0], color="grey", linewidth=0.8, linestyle="--")
        drawdown_axes.fill_between(times, drawdown, 0.0, color=_DRAWDOWN_COLOUR, alpha=0.35)
        drawdown_axes.plot(times, drawdown, color=_DRAWDOWN_COLOUR, linewidth=0.8)
        # matplotlib.dates ships without type hints, hence the narrow ignores.
        locator = AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
        formatter = ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
        drawdown_axes.xaxis.set_major_locator(locator)
        drawdown_axes.xaxis.set_major_formatter(formatter)
    else:
        equity_axes.text(0.5, 0.5, "no equity points", ha="center", va="center")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
