"""`trading-core backtest` end to end: replay, summary, report files, audited decisions."""

from __future__ import annotations

import asyncio
import base64
import csv
import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from trading_core.domain.fill import Fill
from trading_core.storage.factory import open_store

from .conftest import RunCli

pytestmark = pytest.mark.e2e

FILES = ("ETH_BTC-5m.feather", "LTC_BTC-5m.feather", "XMR_BTC-5m.feather")
FROM, TO = "2018-01-12", "2018-01-16T12:00"
START = datetime(2018, 1, 12, tzinfo=UTC)
END = datetime(2018, 1, 16, 12, tzinfo=UTC)
STEP = timedelta(minutes=5)
PER_YEAR = 365 * 24 * 12
CASH = 10.0  # packaged settings.toml: initial_cash.BTC


def _data_args(market: Path, names: tuple[str, ...] = FILES) -> list[str]:
    return [arg for name in names for arg in ("--data", str(market / name))]


def _run_id(stdout: str) -> str:
    match = re.search(r"^run ([0-9a-f]{32})", stdout, re.MULTILINE)
    assert match, stdout
    return match.group(1)


async def _audit(db_url: str, run_id: str) -> tuple[list[Any], list[Fill]]:
    store = await open_store(db_url)
    try:
        return await store.list_decisions(run_id=run_id), await store.list_fills()
    finally:
        await store.close()


def _closes(market: Path) -> pd.DataFrame:
    """Bar closes of the window, indexed by close time, one column per symbol."""
    columns = {}
    for name in FILES:
        frame = pd.read_feather(market / name)
        frame = frame[(frame["date"] >= START) & (frame["date"] < END)]
        symbol = name.split("-")[0].replace("_", "/")
        columns[symbol] = pd.Series(frame["close"].to_numpy(), index=frame["date"] + STEP)
    return pd.DataFrame(columns)


def _equity(closes: pd.DataFrame, fills: list[Fill]) -> pd.DataFrame:
    """The account on the bar grid from its fills and closes, in plain pandas floats."""
    grid = pd.date_range(START, closes.index.max(), freq="5min")
    rows = pd.DataFrame(
        {
            "at": [f.timestamp for f in fills],
            "symbol": [f.symbol for f in fills],
            "signed": [float(f.signed_quantity) for f in fills],
            "cash": [float(-f.signed_quantity * f.price - f.commission) for f in fills],
            "price": [float(f.price) for f in fills],
        }
    )
    assert rows["at"].isin(grid).all()  # fills happen at bar opens and closes, on the grid
    cash = CASH + rows.groupby("at")["cash"].sum().reindex(grid, fill_value=0.0).cumsum()
    held = rows.pivot_table(index="at", columns="symbol", values="signed", aggfunc="sum")
    held = held.reindex(index=grid, columns=closes.columns).fillna(0.0).cumsum()
    # The latest known price: a fill at the moment a bar closes is the newer price.
    fill_prices = rows.groupby(["at", "symbol"])["price"].last().unstack()
    prices = fill_prices.combine_first(closes).reindex(columns=closes.columns)
    prices = prices.reindex(prices.index.union(grid)).ffill().reindex(grid)
    value = (held * prices).fillna(0.0).sum(axis=1)
    exposed = (held.abs() > 1e-12).any(axis=1)
    return pd.DataFrame({"equity": cash + value, "exposed": exposed})


def _reference(curve: pd.DataFrame, pnls: pd.Series) -> dict[str, float]:
    """empyrical's definitions with pandas on the independently rebuilt equity."""
    equity = curve["equity"]
    r = equity.pct_change().iloc[1:]
    total = float(equity.iloc[-1] / equity.iloc[0] - 1)
    annual = (1 + total) ** (PER_YEAR / len(r)) - 1
    max_dd = float((equity / equity.cummax() - 1).min())
    return {
        "total_return": total,
        "annual_return": annual,
        "sharpe": float(r.mean() / r.std(ddof=1) * math.sqrt(PER_YEAR)),
        "sortino": float(r.mean() / np.sqrt((r.clip(upper=0) ** 2).mean()) * math.sqrt(PER_YEAR)),
        "max_drawdown": max_dd,
        "calmar": annual / abs(max_dd),
        "win_rate": float((pnls > 0).mean()),
        "profit_factor": float(pnls[pnls > 0].sum() / -pnls[pnls < 0].sum()),
        "exposure_time": float(curve["exposed"].iloc[:-1].mean()),
    }


def test_backtest_prints_a_summary_writes_the_report_and_audits_every_decision(
    run_cli: RunCli, tmp_path: Path, market: Path
) -> None:
    report = tmp_path / "report"
    result = run_cli(
        "backtest", *_data_args(market), "--from", FROM, "--to", TO, "--report", str(report), "-q"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # -q: no progress
    assert "bars processed :" in result.stdout
    assert "Sharpe ratio" in result.stdout
    assert str(report / "report.html") in result.stdout
    names = ("metrics.json", "trades.csv", "equity.png", "report.html")
    assert sorted(p.name for p in report.iterdir()) == sorted(names)

    db = f"sqlite:///{tmp_path / 'data' / 'trading.db'}"
    decisions, fills = asyncio.run(_audit(db, _run_id(result.stdout)))
    closes = _closes(market)
    bars = int(closes.notna().sum().sum())
    assert f"bars processed : {bars} (ETH/BTC, LTC/BTC, XMR/BTC)" in result.stdout
    assert len(decisions) == bars  # one audited decision per bar and symbol, in the window
    assert all(START < d.timestamp <= END for d in decisions)
    assert fills, "the agent traded in the window"

    document = json.loads((report / "metrics.json").read_text(encoding="utf-8"))
    metrics = document["metrics"]
    with (report / "trades.csv").open(encoding="utf-8", newline="") as handle:
        trades = list(csv.DictReader(handle))
    pnls = pd.Series([float(row["pnl"]) for row in trades])
    assert metrics["trade_count"] == len(trades) > 0
    curve = _equity(closes, fills)
    expected = _reference(curve, pnls)
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, rel=1e-6, abs=1e-12), name
    assert metrics["periods"] == len(curve) - 1
    ending = re.search(r"equity\s*: 10\.00000000 -> (\d+\.\d{8}) BTC", result.stdout)
    assert ending, result.stdout
    assert curve["equity"].iloc[-1] == pytest.approx(float(ending.group(1)), abs=1e-8)

    html = (report / "report.html").read_text(encoding="utf-8")
    image = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert image
    assert base64.b64decode(image.group(1)) == (report / "equity.png").read_bytes()
    assert (report / "equity.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert not re.search(r"https?://", html)
    assert f"<h2>Trades ({len(trades)} flat to flat, " in html


def test_backtest_shows_a_progress_bar_on_stderr(
    run_cli: RunCli, tmp_path: Path, market: Path
) -> None:
    result = run_cli(
        "backtest",
        *_data_args(market, FILES[:1]),
        "--to",
        "2018-01-10T12:00",
        "--report",
        str(tmp_path / "r"),
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\[#{30}\] 100\.0% ", result.stderr, re.MULTILINE), result.stderr
    assert "bars processed" not in result.stderr  # the summary goes to stdout


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("--data", "nowhere/ETH_BTC-5m.feather"), "DATA_ERROR", "nowhere/ETH_BTC-5m.feather"),
        (("--from", "2018-01-20", "--to", "2018-01-12"), "CONFIGURATION_ERROR", "is not before"),
        (("--from", "2019-06-01"), "DATA_ERROR", "no bars from 2019-06-01"),
        (("--to", "soon"), "CONFIGURATION_ERROR", "not an ISO 8601"),
        (("--report", "occupied.txt"), "CONFIGURATION_ERROR", "occupied.txt is not a directory"),
        (("--agent", "no_such_agent"), "CONFIGURATION_ERROR", "unknown agent 'no_such_agent'"),
    ],
    ids=[
        "missing-file",
        "from-after-to",
        "no-bars-in-range",
        "bad-date",
        "report-is-a-file",
        "unknown-agent",
    ],
)
def test_bad_input_exits_2_with_a_coded_error_and_writes_nothing(
    run_cli: RunCli, tmp_path: Path, market: Path, args: tuple[str, ...], code: str, says: str
) -> None:
    (tmp_path / "occupied.txt").write_text("a file, not a directory", encoding="utf-8")
    defaults = {"--data": str(market / FILES[0]), "--report": "report"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = [arg for flag, value in {**defaults, **given}.items() for arg in (flag, value)]
    result = run_cli("backtest", *argv)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"error [{code}]: " in result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["occupied.txt"]  # no db, no report


def test_a_committee_backtest_explains_each_decision_by_regime_and_agent(
    run_cli: RunCli, tmp_path: Path, market: Path
) -> None:
    paths = [str(market / name) for name in FILES[:2]]
    result = run_cli(
        "backtest",
        "--data",
        *paths,  # --data A B: several files after one flag
        "--agents",
        "trend_hunter,mean_reversion,breakout_hunter,volatility_filter,liquidity_surfer,"
        "sentiment_scout",
        "--from",
        FROM,
        "--to",
        "2018-01-13T12:00",
        "--report",
        str(tmp_path / "report"),
        "-q",
        env={"TRADING_AGENT__ENTRY_THRESHOLD": "0.3"},
    )
    assert result.returncode == 0, result.stderr
    assert "(ETH/BTC, LTC/BTC)" in result.stdout
    db = f"sqlite:///{tmp_path / 'data' / 'trading.db'}"
    decisions, _ = asyncio.run(_audit(db, _run_id(result.stdout)))
    explained = [d for d in decisions if "regime " in d.reasoning]
    assert explained, "after the warm-up every decision names the regime"
    assert any(
        "inactive in" in d.reasoning or "no view: sentiment_scout" in d.reasoning for d in explained
    )
    assert all(d.signals == [] or d.signals[0]["agent"] == "committee" for d in explained)
