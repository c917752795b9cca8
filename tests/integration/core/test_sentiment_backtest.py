"""sentiment_scout trades on headlines in a backtest, point in time, on real bars.

The headlines are tests/fixtures/headlines/eth_ltc_2018-01.jsonl (written for this test), the
bars ETH/BTC and LTC/BTC 5-minute bars of January 2018 from shared/data/market.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from trading_core.domain.signal import DecisionType
from trading_core.reporting.backtest import run_backtest
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings, load_settings
from trading_core.storage.factory import open_store

REPO = Path(__file__).resolve().parents[3]
MARKET = REPO.parent / "shared" / "data" / "market"
HEADLINES = REPO / "tests" / "fixtures" / "headlines" / "eth_ltc_2018-01.jsonl"
START = datetime(2018, 1, 12, 8, tzinfo=UTC)
END = datetime(2018, 1, 13, 16, tzinfo=UTC)
POSITIVE_AT = datetime(2018, 1, 12, 10, tzinfo=UTC)  # "Ethereum surges to record ..."
NEGATIVE_AT = datetime(2018, 1, 13, 12, tzinfo=UTC)  # "Ethereum plunges after exchange hack"


def _settings(tmp_path: Path, headlines: Path | None) -> Settings:
    if not MARKET.is_dir():
        pytest.skip(f"shared market data not found at {MARKET}")
    return load_settings(
        config_dir=PACKAGED_CONFIG_DIR,
        data_dir=tmp_path,
        source="replay",
        data=[MARKET / "ETH_BTC-5m.feather", MARKET / "LTC_BTC-5m.feather"],
        agent={"name": "sentiment_scout"},
        sentiment={"headlines": headlines} if headlines is not None else None,
    )


async def test_sentiment_scout_buys_after_good_news_and_sells_after_bad(tmp_path: Path) -> None:
    settings = _settings(tmp_path, HEADLINES)
    result = await run_backtest(settings, report_dir=tmp_path / "report", start=START, end=END)
    store = await open_store(settings.database_url)
    try:
        rows = await store.list_decisions(run_id=result.summary.run_id)
    finally:
        await store.close()
    trades = [r for r in rows if r.decision_type in (DecisionType.ENTRY, DecisionType.EXIT)]
    eth = [(r.decision_type, r.timestamp) for r in trades if r.symbol == "ETH/BTC"]
    # The bar closing at 10:00 does not know the 10:00 headline; the next one does.
    assert eth[0] == (DecisionType.ENTRY, datetime(2018, 1, 12, 10, 5, tzinfo=UTC))
    assert all(at > POSITIVE_AT for _, at in eth)
    # Bad news 26 h later (the good news is out of the 24 h window): the position is sold.
    exits = [at for kind, at in eth if kind is DecisionType.EXIT]
    assert exits[0] == datetime(2018, 1, 13, 12, 5, tzinfo=UTC)
    assert not [r for r in trades if r.symbol == "LTC/BTC"]  # a neutral headline: no trade
    assert result.summary.fills >= 2
    # Before any headline the agent has no view, and says so.
    first = min(rows, key=lambda r: r.timestamp)
    assert first.reasoning == "skip: sentiment_scout has no view at this bar"
    assert "lexicon" in result.report.parameters["headlines"]


async def test_without_headlines_sentiment_scout_never_trades(tmp_path: Path) -> None:
    result = await run_backtest(
        _settings(tmp_path, None), report_dir=tmp_path / "report", start=START, end=END
    )
    assert result.summary.fills == 0
    assert "headlines" not in result.report.parameters
