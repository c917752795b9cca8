"""A backtest is `trading-core run`'s orchestrator over a date window, observed for its report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from trading_core.domain.errors import ConfigurationError, DataError
from trading_core.domain.market import Timeframe
from trading_core.instruments import InstrumentRegistry
from trading_core.orchestrator.runner import prepare_source
from trading_core.portfolio.performance import flat_to_flat, round_trips
from trading_core.reporting.backtest import agent_label, backtest_parameters, run_backtest
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings, SourceKind, load_settings
from trading_core.storage.factory import open_store

REPO = Path(__file__).resolve().parents[3]
MARKET = REPO.parent / "shared" / "data" / "market"
FILES = ("ETH_BTC-5m.feather", "LTC_BTC-5m.feather")
START = datetime(2018, 1, 12, tzinfo=UTC)
END = datetime(2018, 1, 14, 6, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    if not MARKET.is_dir():
        pytest.skip(f"shared market data not found at {MARKET}")
    return load_settings(
        config_dir=PACKAGED_CONFIG_DIR,
        source=SourceKind.REPLAY,
        data=[MARKET / name for name in FILES],
        db_url=f"sqlite:///{tmp_path / 'trading.db'}",
    )


def _bars_in_window(start: datetime | None, end: datetime | None) -> int:
    """Rows of the files whose open time falls in the window, counted with pandas."""
    total = 0
    for name in FILES:
        times = pd.read_feather(MARKET / name)["date"]
        inside = pd.Series(True, index=times.index)
        if start is not None:
            inside &= times >= start
        if end is not None:
            inside &= times < end
        total += int(inside.sum())
    return total


async def test_backtest_replays_the_window_through_the_orchestrator_and_reports_it(
    settings: Settings, tmp_path: Path
) -> None:
    result = await run_backtest(settings, report_dir=tmp_path / "report", start=START, end=END)
    summary, report = result.summary, result.report

    assert summary.bars == _bars_in_window(START, END) > 0
    assert summary.symbols == ["ETH/BTC", "LTC/BTC"]
    assert summary.fills > 0
    store = await open_store(settings.database_url)
    try:
        decisions = await store.list_decisions(run_id=summary.run_id)
        fills = await store.list_fills()
    finally:
        await store.close()
    assert len(decisions) == summary.bars  # one audited decision per bar and symbol
    assert all(START < d.timestamp <= END for d in decisions)
    # The fresh database holds only this run's fills: the report saw exactly those.
    assert len(fills) == summary.fills
    assert report.metrics.trade_count == len(flat_to_flat(fills))
    assert len(report.closing_fills) == len(round_trips(fills))
    # The equity rebuilt from fills and closes ends where the run's own ledger ended.
    assert report.equity[-1].equity == summary.ending_equity
    assert report.equity[0].timestamp == START
    assert report.equity[-1].timestamp == max(d.timestamp for d in decisions)
    assert report.metrics.total_return == pytest.approx(
        float(summary.ending_equity / summary.starting_equity - 1), rel=1e-12
    )
    assert all(path.is_file() for path in result.files.all())
    assert report.parameters["from (inclusive)"] == START.isoformat()
    assert report.outcome["run id"] == summary.run_id


@pytest.mark.parametrize(
    ("start", "end"),
    [(START, END), (START, None), (None, END), (None, None)],
)
def test_the_replay_window_keeps_bars_opening_from_start_up_to_end(
    settings: Settings, start: datetime | None, end: datetime | None
) -> None:
    instruments = InstrumentRegistry.from_file(settings.symbols_file)
    prepared = prepare_source(settings, instruments, start=start, end=end)
    assert prepared.total_bars == _bars_in_window(start, end)
    assert not prepared.realtime


def test_an_inverted_or_empty_window_is_refused_before_anything_runs(settings: Settings) -> None:
    instruments = InstrumentRegistry.from_file(settings.symbols_file)
    with pytest.raises(ConfigurationError, match="is not before"):
        prepare_source(settings, instruments, start=END, end=START)
    with pytest.raises(ConfigurationError, match="is not before"):
        prepare_source(settings, instruments, start=START, end=START)
    with pytest.raises(DataError, match="the data covers 2018-01-10 04:55 to 2018-01-30 04:50"):
        prepare_source(settings, instruments, start=datetime(2019, 1, 1, tzinfo=UTC))
    with pytest.raises(ConfigurationError, match="no time zone"):
        prepare_source(settings, instruments, start=datetime(2018, 1, 12))


def test_the_report_names_the_agent_or_the_committee_and_its_parameters() -> None:
    single = load_settings(config_dir=PACKAGED_CONFIG_DIR, agent={"name": "ma_cross"})
    committee = load_settings(
        config_dir=PACKAGED_CONFIG_DIR,
        agent={"committee": ["trend_hunter", "mean_reversion"], "weights": {"trend_hunter": 2}},
    )
    assert agent_label(single) == "ma_cross"
    assert agent_label(committee) == "committee of trend_hunter, mean_reversion"
    shown = backtest_parameters(committee, start=None, end=END, timeframe=Timeframe.M5)
    assert shown["agent"] == "committee of trend_hunter, mean_reversion"
    assert '"trend_hunter": 2' in shown["agent parameters"]
    assert shown["from (inclusive)"] == "start of the data"
    assert shown["to (exclusive)"] == "2018-01-14T06:00:00+00:00"
    assert shown["commission (bps)"] == str(committee.paper.commission_bps)


def test_a_window_needs_replayed_data(tmp_path: Path) -> None:
    synthetic = load_settings(config_dir=PACKAGED_CONFIG_DIR, data_dir=tmp_path)
    instruments = InstrumentRegistry.from_file(synthetic.symbols_file)
    with pytest.raises(ConfigurationError, match="needs replayed data"):
        prepare_source(synthetic, instruments, start=START)


async def test_a_report_directory_that_is_a_file_stops_the_backtest_before_it_writes(
    settings: Settings, tmp_path: Path
) -> None:
    occupied = tmp_path / "report"
    occupied.write_text("taken", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not a directory"):
        await run_backtest(settings, report_dir=occupied, start=START, end=END)
    assert not (tmp_path / "trading.db").exists()
