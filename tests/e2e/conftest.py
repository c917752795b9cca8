"""Helpers to run the `trading-core` command as a user would, in a scratch directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from trading_core.settings import PACKAGED_CONFIG_DIR

REPO = Path(__file__).resolve().parents[2]
MARKET = REPO.parent / "shared" / "data" / "market"

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run `trading-core ARGS` with cwd in a scratch directory; returns the finished process."""

    def _run(
        *args: str, timeout: float = 180, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "TRADING_CONFIG_DIR": str(PACKAGED_CONFIG_DIR),
            "TRADING_DATA_DIR": str(tmp_path / "data"),
            **(env or {}),
        }
        return subprocess.run(
            [sys.executable, "-m", "trading_core.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return _run


@pytest.fixture
def market() -> Path:
    if not MARKET.is_dir():
        pytest.skip(f"shared market data not found at {MARKET}")
    return MARKET
