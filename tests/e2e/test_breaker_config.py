"""`trading-core run` refuses breaker configuration that would loosen a breaker, at start-up."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trading_core.settings import PACKAGED_CONFIG_DIR

from .conftest import RunCli

pytestmark = pytest.mark.e2e


def _config_with(tmp_path: Path, risk_limits: str) -> Path:
    config = tmp_path / "config"
    shutil.copytree(PACKAGED_CONFIG_DIR, config)
    (config / "risk_limits.toml").write_text(risk_limits, encoding="utf-8")
    return config


@pytest.mark.parametrize(
    ("table", "named", "hard"),
    [
        ('drawdown_kill_pct = "20"', "breakers.drawdown_kill_pct", "15"),
        ('daily_loss_critical_pct = "-5"', "breakers.daily_loss_critical_pct", "-3"),
        ("kill_latch_hours = 1", "breakers.kill_latch_hours", "24"),
    ],
)
def test_a_looser_breaker_is_refused_at_start_up(
    tmp_path: Path, run_cli: RunCli, table: str, named: str, hard: str
) -> None:
    config = _config_with(tmp_path, f"[breakers]\n{table}\n")
    result = run_cli("run", "--max-bars", "50", env={"TRADING_CONFIG_DIR": str(config)})
    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert f"hard value {hard}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was written


def test_an_unknown_breaker_key_is_refused_at_start_up(tmp_path: Path, run_cli: RunCli) -> None:
    config = _config_with(tmp_path, "[breakers]\nignore_drawdown = true\n")
    result = run_cli("run", "--max-bars", "50", env={"TRADING_CONFIG_DIR": str(config)})
    assert result.returncode == 2, result.stderr
    assert "breakers.ignore_drawdown" in result.stderr
    assert not (tmp_path / "data").exists()


def test_a_tighter_breaker_starts_and_runs(tmp_path: Path, run_cli: RunCli) -> None:
    config = _config_with(tmp_path, '[breakers]\ndrawdown_kill_pct = "12"\nkill_latch_hours = 48\n')
    result = run_cli("run", "--max-bars", "50", "-q", env={"TRADING_CONFIG_DIR": str(config)})
    assert result.returncode == 0, result.stderr
