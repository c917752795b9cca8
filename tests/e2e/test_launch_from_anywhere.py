"""Started from any directory with nothing configured, as Claude Desktop starts a server.

The packaged defaults (config inside the wheel) and the per-user data directory make
``trading-core`` and ``mcp-suite`` agree on one database wherever each is started; a bad
configuration is refused at start, not by every call afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport

from .conftest import REPO

pytestmark = pytest.mark.e2e

SUITE = REPO / ".venv" / "bin" / "mcp-suite"


def _bare_env(user_data: Path, **extra: str) -> dict[str, str]:
    """The environment of a new user: no TRADING_* setting, a private per-user data root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_")}
    return {**env, "XDG_DATA_HOME": str(user_data), **extra}


def _ok(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    content: dict[str, Any] = result.structured_content or {}
    return content


async def test_run_and_a_server_started_elsewhere_share_the_per_user_database(
    tmp_path: Path,
) -> None:
    if not SUITE.is_file():
        pytest.skip(f"console script {SUITE} not installed (run `uv sync`)")
    user_data = tmp_path / "xdg"
    run_dir, server_dir = tmp_path / "here", tmp_path / "there"
    run_dir.mkdir()
    server_dir.mkdir()
    activated = subprocess.run(  # noqa: ASYNC221 - the command must finish before the server starts
        [sys.executable, "-m", "trading_core.cli", "kill-switch", "activate", "--reason", "drill"],
        cwd=run_dir,
        env=_bare_env(user_data),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert activated.returncode == 0, activated.stderr
    database = user_data / "trading-core" / "trading.db"
    assert database.is_file(), activated.stdout
    assert not (run_dir / "data").exists()

    transport = StdioTransport(
        str(SUITE), [], env=_bare_env(user_data), cwd=str(server_dir), keep_alive=False
    )
    async with Client(transport) as client:
        quote = _ok(await client.call_tool("get_quote", {"symbol": "BTC/USD"}))
        status = _ok(await client.call_tool("get_trading_state", {}))
    assert quote["symbol"] == "BTC/USD"
    assert status["record"]["state"] == "KILLED"  # the kill switch the CLI set elsewhere
    assert list(server_dir.iterdir()) == []  # nothing written where the server was started


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"TRADING_MODE": "live"}, "live trading runs only as `trading-core run --live`"),
        ({"TRADING_CONFIG_DIR": "/nonexistent/config"}, "config directory"),
    ],
    ids=["live-mode", "missing-config-dir"],
)
def test_a_server_refuses_at_start_with_one_line(
    tmp_path: Path, extra: dict[str, str], says: str
) -> None:
    if not SUITE.is_file():
        pytest.skip(f"console script {SUITE} not installed (run `uv sync`)")
    result = subprocess.run(
        [str(SUITE)],
        cwd=tmp_path,
        env=_bare_env(tmp_path / "xdg", **extra),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("command", "extra", "says"),
    [
        (["run"], {"TRADING_MODE": "live"}, "--live was not given"),
        (["run", "--source", "kraken"], {"TRADING_MODE": "live"}, "--live was not given"),
        (["run", "--live", "--source", "kraken"], {}, "TRADING_MODE is paper"),
        (["run", "--live"], {"TRADING_MODE": "live"}, "needs live prices: --source kraken"),
        (
            ["run", "--live", "--source", "kraken"],
            {"TRADING_MODE": "live"},
            "TRADING_KRAKEN__API_KEY",
        ),
        (["run", "--live", "--source", "ib"], {"TRADING_MODE": "live"}, "TRADING_IB__ACCOUNT"),
        (
            ["backtest", "--data", "x.csv", "--report", "r"],
            {"TRADING_MODE": "live"},
            "runs only as",
        ),
    ],
    ids=[
        "setting-only",
        "setting-only-kraken",
        "flag-only",
        "not-kraken",
        "no-keys",
        "ib-no-account",
        "backtest",
    ],
)
def test_live_mode_refuses_a_run_at_start_with_one_line(
    tmp_path: Path, command: list[str], extra: dict[str, str], says: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trading_core.cli", *command],
        cwd=tmp_path,
        env=_bare_env(tmp_path / "xdg", **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert not (tmp_path / "xdg").exists()  # refused before anything was written
