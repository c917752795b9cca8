"""`--max-bars N` means N bar times everywhere: at most N bars of each symbol, any source."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trading_core.instruments import InstrumentRegistry
from trading_core.orchestrator.runner import PreparedSource, prepare_source
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings, SourceKind, load_settings

REPO = Path(__file__).resolve().parents[3]
MARKET = REPO.parent / "shared" / "data" / "market"
T0 = datetime(2020, 1, 1, tzinfo=UTC)


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return load_settings(config_dir=PACKAGED_CONFIG_DIR, data_dir=tmp_path / "data", **overrides)


def _prepare(settings: Settings) -> PreparedSource:
    return prepare_source(settings, InstrumentRegistry.from_file(settings.symbols_file))


async def _bars_per_symbol(prepared: PreparedSource) -> Counter[str]:
    return Counter([bar.symbol async for bar in prepared.source.bars()])


def _hourly_csv(path: Path, first: int, count: int) -> Path:
    rows = ["time,open,high,low,close,volume"]
    for i in range(first, first + count):
        at = (T0 + timedelta(hours=i)).strftime("%Y-%m-%d %H:%M:%S")
        rows.append(f"{at},100,101,99,100.5,10")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("source", ["synthetic", "replay"])
async def test_max_bars_gives_each_symbol_that_many_bars_from_either_source(
    tmp_path: Path, source: str
) -> None:
    if source == "replay":
        if not MARKET.is_dir():
            pytest.fail(f"shared market data not found at {MARKET}")
        files = [MARKET / "ETH_BTC-5m.feather", MARKET / "LTC_BTC-5m.feather"]
        settings = _settings(tmp_path, source=SourceKind.REPLAY, data=files, max_bars=40)
    else:
        settings = _settings(tmp_path, max_bars=40)
    prepared = _prepare(settings)

    per_symbol = await _bars_per_symbol(prepared)

    assert len(per_symbol) == 2
    assert set(per_symbol.values()) == {40}
    # The progress total counts what the summary's "bars processed" counts: every bar.
    assert prepared.total_bars == 80 == per_symbol.total()


async def test_max_bars_counts_bar_times_when_replayed_files_start_apart(tmp_path: Path) -> None:
    early = _hourly_csv(tmp_path / "BTC_USD-1h.csv", first=0, count=10)
    late = _hourly_csv(tmp_path / "ETH_USD-1h.csv", first=5, count=10)
    settings = _settings(tmp_path, source=SourceKind.REPLAY, data=[early, late], max_bars=8)
    prepared = _prepare(settings)

    per_symbol = await _bars_per_symbol(prepared)

    # The first 8 hours: BTC/USD has a bar in each, ETH/USD only from hour 5 on.
    assert per_symbol == Counter({"BTC/USD": 8, "ETH/USD": 3})
    assert prepared.total_bars == 11


async def test_without_max_bars_a_replay_plays_every_bar(tmp_path: Path) -> None:
    early = _hourly_csv(tmp_path / "BTC_USD-1h.csv", first=0, count=10)
    late = _hourly_csv(tmp_path / "ETH_USD-1h.csv", first=5, count=10)
    prepared = _prepare(_settings(tmp_path, source=SourceKind.REPLAY, data=[early, late]))

    assert await _bars_per_symbol(prepared) == Counter({"BTC/USD": 10, "ETH/USD": 10})
    assert prepared.total_bars == 20
