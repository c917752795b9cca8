"""`backtest --grid` on real bars: every point a whole backtest in its own process, one table."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trading_core.reporting.grid import GridOutcome, grid_points, parse_grid, run_grid
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings

DATA = (
    Path(__file__).resolve().parents[3].parent / "shared" / "data" / "market" / "ETH_BTC-5m.feather"
)
START, END = datetime(2018, 1, 10, tzinfo=UTC), datetime(2018, 1, 13, tzinfo=UTC)


async def test_a_sweep_runs_every_point_and_ranks_them_by_the_metric(tmp_path: Path) -> None:
    if not DATA.is_file():
        pytest.skip(f"shared market data not found at {DATA}")
    settings = load_settings(
        config_dir=PACKAGED_CONFIG_DIR, data_dir=tmp_path / "base", source="replay", data=[DATA]
    )
    points = grid_points(settings.agent, parse_grid(["fast=5,10", "slow=30"]))
    seen: list[tuple[int, int]] = []

    def done(outcome: GridOutcome, finished: int, total: int) -> None:
        seen.append((finished, total))

    report = tmp_path / "sweep"
    result = run_grid(
        settings,
        points,
        report_dir=report,
        rank_by="total_return",
        start=START,
        end=END,
        jobs=2,
        on_done=done,
    )

    assert seen == [(1, 2), (2, 2)]
    assert all(o.error == "" for o in result.outcomes), [o.error for o in result.outcomes]
    returns = [o.metrics["total_return"] for o in result.outcomes if o.metrics]
    assert returns == sorted(returns, reverse=True)
    assert result.bars == sum(o.bars for o in result.outcomes) > 0
    with result.csv_path.open(encoding="utf-8") as table:
        rows = list(csv.DictReader(table))
    assert [int(r["rank"]) for r in rows] == [1, 2]
    for row, outcome in zip(rows, result.outcomes, strict=True):
        assert int(row["point"]) == outcome.point.number
        # Each point's own report agrees with its row of the comparison.
        own = json.loads(
            (report / "runs" / f"{outcome.point.number:03d}" / "metrics.json").read_text()
        )
        assert float(row["total_return"]) == pytest.approx(own["metrics"]["total_return"])
        assert int(row["trade_count"]) == own["metrics"]["trade_count"]
        assert own["parameters"]["agent parameters"] == json.dumps(
            {"fast": outcome.point.values["fast"], "slow": 30}, sort_keys=True
        )
    page = result.html_path.read_text(encoding="utf-8")
    assert '<table id="comparison">' in page
    assert "ranked by total_return" in page
    assert page.count("<tr><td>") == 2
