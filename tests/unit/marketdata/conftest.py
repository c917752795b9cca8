"""Shared fixtures for market data unit tests: where the real data and recordings live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_PROJECT_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def market_data_dir() -> Path:
    """The shared real market data (``../shared/data/market`` from the project root)."""
    configured = os.environ.get("MARKET_DATA_DIR")
    directory = Path(configured) if configured else _PROJECT_ROOT.parent / "shared/data/market"
    if not (directory / "GOOG.csv").is_file():
        pytest.fail(f"real market data not found in {directory} (set MARKET_DATA_DIR)")
    return directory


@pytest.fixture(scope="session")
def kraken_fixtures_dir() -> Path:
    """Kraken REST responses in the exact JSON shape Kraken sends."""
    return _PROJECT_ROOT / "tests/fixtures/kraken"
