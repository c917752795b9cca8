"""`trading-core backtest --headlines FILE`: sentiment_scout trades on the file's headlines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import REPO, RunCli

pytestmark = pytest.mark.e2e

HEADLINES = REPO / "tests" / "fixtures" / "headlines" / "eth_ltc_2018-01.jsonl"


def test_headlines_make_sentiment_scout_trade(
    run_cli: RunCli, market: Path, tmp_path: Path
) -> None:
    args = ["--data", str(market / "ETH_BTC-5m.feather"), "--agent", "sentiment_scout", "-q"]
    window = ["--from", "2018-01-12", "--to", "2018-01-14"]
    result = run_cli("backtest", *args, *window, "--headlines", str(HEADLINES), "--report", "r1")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "r1" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["closing_fills"] >= 1 or metrics["trade_count"] >= 1, metrics
    missing = run_cli("backtest", *args, "--headlines", "nope.jsonl", "--report", "r2")
    assert missing.returncode == 2
    assert "headline file nope.jsonl does not exist" in missing.stderr
