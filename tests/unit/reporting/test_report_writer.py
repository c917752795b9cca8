"""The backtest report files: what they hold, checked against independent computations."""

from __future__ import annotations

import base64
import csv
import json
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trading_core.domain.errors import ConfigurationError
from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar, Timeframe
from trading_core.domain.order import Side
from trading_core.portfolio.equity_curve import EquityPoint
from trading_core.portfolio.performance import RoundTrip
from trading_core.reporting.chart import PNG_MAGIC, equity_chart_png
from trading_core.reporting.report import (
    BacktestReport,
    MetricKind,
    build_report,
    format_metric,
    metric_rows,
    report_from_curve,
)
from trading_core.reporting.writer import ReportFiles, check_report_dir, write_report

T0 = datetime(2018, 1, 10, 5, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)
PER_YEAR = 365 * 24 * 12  # five-minute periods in a 365-day year


def _curve(values: list[Decimal], exposed: list[bool]) -> list[EquityPoint]:
    points, high = [], values[0]
    for index, (value, flag) in enumerate(zip(values, exposed, strict=True)):
        high = max(high, value)
        points.append(
            EquityPoint(
                timestamp=T0 + index * STEP,
                equity=value,
                cash=value,
                positions_value=Decimal(0),
                drawdown_pct=(high - value) / high * 100,
                exposed=flag,
            )
        )
    return points


def _trip(symbol: str, pnl: str, hour: int, *, exit_price: str = "0.0931") -> RoundTrip:
    return RoundTrip(
        symbol=symbol,
        side=Side.BUY,
        quantity=Decimal("2.07653914"),
        entry_price=Decimal("0.0963655717530816"),
        exit_price=Decimal(exit_price),
        entry_time=T0 + timedelta(hours=hour),
        exit_time=T0 + timedelta(hours=hour, minutes=45),
        commission=Decimal("0.000389841024146246383029644"),
        pnl=Decimal(pnl),
    )


@pytest.fixture(scope="module")
def walk() -> list[Decimal]:
    """300 five-minute equity values of a noisy walk with a real drawdown, in Decimal."""
    returns = np.random.default_rng(2018_01_10).normal(0.00002, 0.0015, size=299)
    values = [Decimal(10)]
    for r in returns:
        values.append(
            (values[-1] * (1 + Decimal(float.__repr__(float(r))))).quantize(Decimal("1e-8"))
        )
    return values


@pytest.fixture(scope="module")
def exposure(walk: list[Decimal]) -> list[bool]:
    return [index % 3 != 0 for index in range(len(walk))]


@pytest.fixture(scope="module")
def trades() -> list[RoundTrip]:
    return [
        _trip("ETH/BTC", "0.0034919456227003654444", 0, exit_price="0.0000501295899366"),
        _trip("LTC/BTC", "-0.010762579865404579381033644", 2),
        _trip("ETH/BTC", "0.02", 4),
        _trip("ADA/BTC", "-0.0041", 6),
        _trip("ADA/BTC", "0", 8),
    ]


@pytest.fixture(scope="module")
def report(walk: list[Decimal], exposure: list[bool], trades: list[RoundTrip]) -> BacktestReport:
    return report_from_curve(
        _curve(walk, exposure),
        trades,
        currency="BTC",
        timeframe=Timeframe.M5,
        title="Backtest of ma_cross on <ETH/BTC> & co",
        parameters={"agent": "ma_cross", "spread (bps)": "5", "data files": "a <b>.feather"},
        outcome={"run id": "abc123", "ending equity": "9.9 BTC"},
    )


@pytest.fixture(scope="module")
def written(report: BacktestReport, tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    return write_report(report, tmp_path_factory.mktemp("report") / "nested" / "dir")


def _pandas_reference(
    values: list[Decimal], exposed: list[bool], pnls: list[Decimal]
) -> dict[str, float]:
    """empyrical's definitions written with pandas from the equity values and trade P&L."""
    equity = pd.Series([float(v) for v in values])
    r = equity.pct_change().iloc[1:]
    total = float(np.prod((1 + r).to_numpy()) - 1)
    annual = (1 + total) ** (PER_YEAR / len(r)) - 1
    sharpe = r.mean() / r.std(ddof=1) * math.sqrt(PER_YEAR)
    sortino = r.mean() / math.sqrt((r.clip(upper=0) ** 2).mean()) * math.sqrt(PER_YEAR)
    max_dd = float((equity / equity.cummax() - 1).min())
    p = pd.Series([float(x) for x in pnls])
    return {
        "total_return": total,
        "annual_return": annual,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": max_dd,
        "calmar": annual / abs(max_dd),
        "win_rate": float((p > 0).mean()),
        "profit_factor": float(p[p > 0].sum() / -p[p < 0].sum()),
        "exposure_time": float(pd.Series(exposed[:-1]).mean()),
    }


def test_the_four_files_are_written_into_a_new_nested_directory(written: ReportFiles) -> None:
    assert [path.name for path in written.all()] == [
        "metrics.json",
        "trades.csv",
        "equity.png",
        "report.html",
    ]
    for path in written.all():
        assert path.is_file()
        assert path.stat().st_size > 0
    assert written.chart.read_bytes().startswith(PNG_MAGIC)


def test_metrics_json_equals_a_pandas_computation_on_the_same_returns(
    written: ReportFiles, walk: list[Decimal], exposure: list[bool], trades: list[RoundTrip]
) -> None:
    document = json.loads(written.metrics.read_text(encoding="utf-8"))
    metrics = document["metrics"]
    expected = _pandas_reference(walk, exposure, [t.pnl for t in trades])
    assert expected["max_drawdown"] < -0.005  # a real drawdown: Calmar is exercised
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert metrics["trade_count"] == 5
    assert metrics["periods"] == len(walk) - 1
    assert metrics["periods_per_year"] == PER_YEAR
    assert metrics["start"] == "2018-01-10T05:00:00Z"
    assert (document["currency"], document["timeframe"]) == ("BTC", "5m")
    assert document["parameters"]["spread (bps)"] == "5"
    assert document["outcome"]["run id"] == "abc123"


def test_html_embeds_the_chart_and_shows_every_metric_without_external_resources(
    written: ReportFiles, report: BacktestReport
) -> None:
    html = written.html.read_text(encoding="utf-8")
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 1
    assert base64.b64decode(images[0]) == written.chart.read_bytes()
    for label, value in metric_rows(report.metrics):
        assert f'<th>{escape(label)}</th><td class="num">{escape(value)}</td>' in html
    assert "http://" not in html
    assert "https://" not in html
    assert not re.search(r"<(script|link|iframe)\b", html)
    assert re.search(r"\bsrc=\"(?!data:)", html) is None


def test_html_lists_every_trade_and_the_run_parameters_escaped(
    written: ReportFiles, trades: list[RoundTrip]
) -> None:
    html = written.html.read_text(encoding="utf-8")
    assert "<h2>Trades (5 flat to flat, 5 closing fills)</h2>" in html
    assert len(re.findall(r'<tr class="(win|loss|flat)">', html)) == len(trades)
    assert html.count('<tr class="win">') == 2
    assert html.count('<tr class="loss">') == 2
    assert "0.00005012958994" in html  # ten significant digits, fixed point, not 5.01E-5
    assert "-0.01076257987" in html
    assert "Backtest of ma_cross on &lt;ETH/BTC&gt; &amp; co" in html
    assert "<th>data files</th><td>a &lt;b&gt;.feather</td>" in html
    assert "<th>ending equity</th><td>9.9 BTC</td>" in html


def test_trades_csv_rounds_money_to_the_currency_and_keeps_quantities_exact(
    written: ReportFiles, trades: list[RoundTrip]
) -> None:
    with written.trades.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(trades)
    for row, trip in zip(rows, trades, strict=True):
        rebuilt = RoundTrip(**row)  # every column still parses back into a trade
        assert rebuilt.quantity == trip.quantity  # lots are exact: never rounded
        assert abs(rebuilt.pnl - trip.pnl) <= Decimal("0.000000005")  # half a satoshi
        assert abs(rebuilt.entry_price - trip.entry_price) <= Decimal("0.000000005")
        for column in ("pnl", "commission", "entry_price", "exit_price"):
            assert "E" not in row[column]  # fixed point even for tiny amounts
            assert len(row[column].partition(".")[2]) <= 8  # BTC-quoted: satoshis at most
    # -0.010762579865404579381033644 BTC: half to even at the eighth place.
    assert rows[1]["pnl"] == "-0.01076258"
    assert rows[1]["commission"] == "0.00038984"
    assert rows[2]["pnl"] == "0.02"  # already within its places: unchanged, not 0.02000000
    assert rows[0]["exit_price"] == "0.00005013"


def test_undefined_statistics_are_null_in_json_and_na_in_html(tmp_path: Path) -> None:
    flat = _curve([Decimal(10)] * 4, [False] * 4)
    report = report_from_curve(
        flat, [], currency="BTC", timeframe=Timeframe.M5, title="flat", parameters={}
    )
    files = write_report(report, tmp_path)
    metrics = json.loads(files.metrics.read_text(encoding="utf-8"))["metrics"]
    assert metrics["total_return"] == 0.0
    assert metrics["sharpe"] is None
    assert metrics["sortino"] is None
    assert metrics["calmar"] is None
    assert metrics["win_rate"] is None
    assert metrics["profit_factor"] is None
    assert metrics["exposure_time"] == 0.0
    html = files.html.read_text(encoding="utf-8")
    assert '<th>Sharpe ratio</th><td class="num">n/a</td>' in html
    assert "No round trips were closed." in html


def test_build_report_values_the_account_from_its_fills_and_bar_closes() -> None:
    """Buy 1 at 100 (fee 0.1), the bar closes at 110, sell 1 at 120 (fee 0.12)."""

    def bar(opened: datetime, close: str) -> Bar:
        price = Decimal(close)
        return Bar(
            symbol="ETH/BTC",
            timeframe=Timeframe.M5,
            timestamp=opened,
            open=price,
            high=price,
            low=price,
            close=price,
            volume=Decimal(5),
        )

    def fill(side: Side, price: str, fee: str, at: datetime) -> Fill:
        return Fill(
            fill_id=f"f-{side}",
            order_id=f"o-{side}",
            client_order_id=f"c-{side}",
            symbol="ETH/BTC",
            side=side,
            quantity=Decimal(1),
            price=Decimal(price),
            commission=Decimal(fee),
            timestamp=at,
        )

    bars = {"ETH/BTC": [bar(T0, "100"), bar(T0 + STEP, "110"), bar(T0 + 2 * STEP, "120")]}
    fills = [fill(Side.BUY, "100", "0.1", T0 + STEP), fill(Side.SELL, "120", "0.12", T0 + 3 * STEP)]
    report = build_report(
        fills, bars, initial_cash=Decimal(1000), currency="BTC", timeframe=Timeframe.M5, title="t"
    )
    equity = [point.equity for point in report.equity]
    # T0: nothing yet; +1 step: bought at 100 (fee 0.1); +2: marked at the 110 close; +3: sold.
    assert equity == [Decimal(1000), Decimal("999.9"), Decimal("1009.9"), Decimal("1019.78")]
    assert [point.exposed for point in report.equity] == [False, True, True, False]
    assert report.metrics.total_return == pytest.approx(0.01978, rel=1e-12)
    assert report.metrics.exposure_time == pytest.approx(2 / 3)
    assert report.metrics.trade_count == 1
    assert report.trades[0].pnl == Decimal("19.78")
    assert report.metrics.win_rate == 1.0


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (0.1234, "return", "+12.34%"),
        (-0.004237, "return", "-0.42%"),
        (0.0, "return", "0.00%"),
        (0.3218, "share", "32.18%"),
        (-1.32700744, "ratio", "-1.327"),
        (1381, "count", "1,381"),
        (None, "ratio", "n/a"),
        (None, "count", "n/a"),
    ],
)
def test_metrics_are_formatted_for_people(
    value: float | None, kind: MetricKind, shown: str
) -> None:
    assert format_metric(value, kind) == shown


def test_a_report_directory_that_is_a_file_is_refused(tmp_path: Path) -> None:
    occupied = tmp_path / "report"
    occupied.write_text("not a directory", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="is not a directory"):
        check_report_dir(occupied)
    with pytest.raises(ConfigurationError, match="which is not a directory"):
        check_report_dir(occupied / "inside")
    check_report_dir(tmp_path / "new" / "deeper")  # not there yet: fine, it will be created
    assert not (tmp_path / "new").exists()


def test_the_same_curve_draws_the_same_png_and_an_empty_one_still_draws(
    walk: list[Decimal], exposure: list[bool]
) -> None:
    curve = _curve(walk, exposure)
    first = equity_chart_png(curve, title="t", currency="BTC")
    assert first == equity_chart_png(curve, title="t", currency="BTC")
    assert first != equity_chart_png(curve[:100], title="t", currency="BTC")
    assert b"matplotlib.org" not in first  # no software stamp with a link in the metadata
    assert equity_chart_png([], title="t", currency="BTC").startswith(PNG_MAGIC)
