"""`trading-core run` end to end: the README's first command, as a new user runs it."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from trading_core.settings import PACKAGED_CONFIG_DIR
from trading_core.storage.factory import open_store

from .conftest import RunCli

pytestmark = pytest.mark.e2e


def _run_id(stdout: str) -> str:
    match = re.search(r"^run ([0-9a-f]{32})", stdout, re.MULTILINE)
    assert match, stdout
    return match.group(1)


def _summary_number(stdout: str, label: str) -> int:
    match = re.search(rf"{label}\s*:\s*(\d+)", stdout)
    assert match, stdout
    return int(match.group(1))


async def _decisions(db_url: str, run_id: str) -> list[dict[str, Any]]:
    store = await open_store(db_url)
    try:
        rows = await store.list_decisions(run_id=run_id)
    finally:
        await store.close()
    return [
        row.model_dump(mode="json", exclude={"id", "recorded_at", "run_id", "order_id"})
        for row in rows
    ]


def test_default_run_audits_one_decision_per_bar_and_symbol(
    run_cli: RunCli, tmp_path: Path
) -> None:
    result = run_cli("run", "--max-bars", "400")
    assert result.returncode == 0, result.stderr
    assert "bars processed : 800" in result.stdout  # 2 synthetic symbols x 400 bars
    database = tmp_path / "data" / "trading.db"
    assert database.is_file()
    assert str(database.relative_to(tmp_path)) in result.stdout
    rows = asyncio.run(_decisions(f"sqlite:///{database}", _run_id(result.stdout)))
    assert len(rows) == 800 == _summary_number(result.stdout, "decisions")
    assert {r["decision_type"] for r in rows} >= {"skip"}
    assert "%" in result.stderr  # progress lines went to stderr


def test_the_same_replay_twice_gives_the_same_decisions(
    run_cli: RunCli, tmp_path: Path, market: Path
) -> None:
    args = ("run", "--data", str(market / "ETH_BTC-5m.feather"), "--max-bars", "1500", "-q")
    first, second = run_cli(*args), run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    db = f"sqlite:///{tmp_path / 'data' / 'trading.db'}"
    rows_first = asyncio.run(_decisions(db, _run_id(first.stdout)))
    rows_second = asyncio.run(_decisions(db, _run_id(second.stdout)))
    assert len(rows_first) == 1500
    assert any(r["decision_type"] in ("entry", "exit") for r in rows_first)
    assert rows_first == rows_second


def test_replay_of_real_data_trades_and_reports_pnl(run_cli: RunCli, market: Path) -> None:
    result = run_cli("run", "--data", str(market / "LTC_BTC-5m.feather"), "-q")
    assert result.returncode == 0, result.stderr
    assert _summary_number(result.stdout, "fills") > 0
    assert re.search(r"equity\s*: 10\.00000000 -> \d+\.\d{8} BTC", result.stdout), result.stdout


def test_missing_data_file_fails_clearly_and_writes_nothing(
    run_cli: RunCli, tmp_path: Path
) -> None:
    result = run_cli("run", "--data", "nowhere/prices.csv")
    assert result.returncode == 2
    assert "nowhere/prices.csv" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_unparseable_rows_fail_clearly_and_write_nothing(run_cli: RunCli, tmp_path: Path) -> None:
    bad = tmp_path / "GOOG.csv"
    bad.write_text(
        "date,open,high,low,close,volume\n"
        "2020-01-02,10,11,9,10.5,100\n"
        "2020-01-03,ten,11,9,10.5,100\n",
        encoding="utf-8",
    )
    result = run_cli("run", "--data", str(bad))
    assert result.returncode == 2
    assert "ten" in result.stderr or "row" in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


def test_unknown_symbol_fails_clearly_and_writes_nothing(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("run", "--symbols", "ΑAPL")  # Greek capital alpha
    assert result.returncode == 2
    assert "INSTRUMENT_NOT_FOUND" in result.stderr
    assert not (tmp_path / "data").exists()


def test_unreachable_database_fails_clearly(run_cli: RunCli) -> None:
    result = run_cli("run", "--db-url", "postgresql://trader:hunter2@127.0.0.1:1/trading")
    assert result.returncode == 2
    assert "127.0.0.1:1" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_reports_the_schema_version(run_cli: RunCli, tmp_path: Path) -> None:
    first = run_cli("db", "upgrade")
    second = run_cli("db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "applied 1" in first.stdout
    assert "already up to date" in second.stdout
    assert (tmp_path / "data" / "trading.db").is_file()


def test_symbols_flag_picks_which_replayed_files_to_trade(run_cli: RunCli, market: Path) -> None:
    result = run_cli(
        "run",
        "--data",
        str(market / "ETH_BTC-5m.feather"),
        "--data",
        str(market / "LTC_BTC-5m.feather"),
        "--symbols",
        "LTC/BTC",
        "--max-bars",
        "300",
        "-q",
    )
    assert result.returncode == 0, result.stderr
    assert "bars processed : 300 (LTC/BTC)" in result.stdout


def test_symbols_not_in_the_data_are_refused(run_cli: RunCli, market: Path) -> None:
    result = run_cli("run", "--data", str(market / "ETH_BTC-5m.feather"), "--symbols", "ZEC/BTC")
    assert result.returncode == 2
    assert "ZEC/BTC" in result.stderr


def test_decisions_command_shows_what_was_decided_and_why(run_cli: RunCli) -> None:
    empty = run_cli("decisions")
    assert empty.returncode == 0, empty.stderr
    assert "no decisions recorded yet" in empty.stdout
    assert run_cli("run", "--max-bars", "300", "-q").returncode == 0
    shown = run_cli("decisions", "--actions", "--limit", "3")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.strip().splitlines()
    assert len(lines) == 3
    assert all(" entry " in line or " exit " in line for line in lines)
    assert all("ma_cross score" in line for line in lines)


def test_kill_switch_is_a_deliberate_human_command_with_a_recorded_reason(
    run_cli: RunCli,
) -> None:
    assert "ACTIVE" in run_cli("kill-switch", "status").stdout
    fired = run_cli("kill-switch", "activate", "--reason", "runaway orders")
    assert fired.returncode == 0, fired.stderr
    assert fired.stdout.startswith("KILLED - runaway orders")
    early = run_cli("kill-switch", "reset", "--reason", "looked at it")
    assert early.returncode == 2
    assert "KILL_SWITCH_LATCHED" in early.stderr
    no_reason = run_cli("kill-switch", "reset", "--reason", " ", "--override-latch")
    assert no_reason.returncode == 2
    assert "REASON_REQUIRED" in no_reason.stderr
    reset = run_cli("kill-switch", "reset", "--reason", "reviewed logs", "--override-latch")
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout.startswith("ACTIVE - reviewed logs")


def test_a_risk_limit_beyond_its_hard_cap_is_refused_at_start_up(
    tmp_path: Path, run_cli: RunCli
) -> None:
    config = tmp_path / "config"
    shutil.copytree(PACKAGED_CONFIG_DIR, config)
    (config / "risk_limits.toml").write_text('max_position_pct = "20"\n', encoding="utf-8")
    result = run_cli("run", "--max-bars", "50", env={"TRADING_CONFIG_DIR": str(config)})
    assert result.returncode == 2
    assert "max_position_pct" in result.stderr
    assert "10" in result.stderr
    assert not (tmp_path / "data").exists()
