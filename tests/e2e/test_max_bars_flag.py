"""`trading-core run --max-bars N`: N bars of each symbol, for synthetic and for replayed data."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import RunCli

pytestmark = pytest.mark.e2e


def test_max_bars_is_per_symbol_for_synthetic_and_replayed_data_alike(
    run_cli: RunCli, market: Path
) -> None:
    synthetic = run_cli("run", "--max-bars", "120", "-q")
    replay = run_cli(
        "run",
        *("--data", str(market / "ETH_BTC-5m.feather")),
        *("--data", str(market / "LTC_BTC-5m.feather")),
        *("--max-bars", "120", "-q"),
    )

    assert synthetic.returncode == 0, synthetic.stderr
    assert replay.returncode == 0, replay.stderr
    # Two symbols each: 120 bar times, 240 bars processed.
    assert "bars processed : 240 (BTC/USD, ETH/USD)" in synthetic.stdout
    assert "bars processed : 240 (ETH/BTC, LTC/BTC)" in replay.stdout


def test_the_max_bars_help_says_what_it_counts(run_cli: RunCli) -> None:
    result = run_cli("run", "--help", env={"COLUMNS": "80"})

    help_text = " ".join(result.stdout.split())
    assert "--max-bars N Stop after N bars of each symbol (N bar times;" in help_text
    assert "bars processed counts every symbol's bars" in help_text
