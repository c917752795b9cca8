"""Each committee agent run alone (`--agent NAME`) on real bars: it warms up, then trades.

Found broken: only the committee was given the recent bars its members' alphas read, so an
agent alone skipped every bar as "warming up (250/21 bars of history)" and never traded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trading_core.domain.errors import ConfigurationError
from trading_core.domain.signal import DecisionType
from trading_core.orchestrator.runner import run
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings, load_settings
from trading_core.storage.factory import open_store

DATA = (
    Path(__file__).resolve().parents[3].parent / "shared" / "data" / "market" / "ETH_BTC-5m.feather"
)
TRADERS = ["trend_hunter", "mean_reversion", "breakout_hunter", "liquidity_surfer"]


@pytest.fixture
def data() -> Path:
    if not DATA.is_file():
        pytest.skip(f"shared market data not found at {DATA}")
    return DATA


def alone(tmp_path: Path, data: Path, name: str) -> Settings:
    return load_settings(
        config_dir=PACKAGED_CONFIG_DIR,
        data_dir=tmp_path,
        source="replay",
        data=[data],
        agent={"name": name},
    )


@pytest.mark.parametrize("name", TRADERS)
async def test_an_agent_alone_warms_up_then_trades_on_real_bars(
    tmp_path: Path, data: Path, name: str
) -> None:
    settings = alone(tmp_path, data, name)
    summary = await run(settings, run_id="a" * 32)
    store = await open_store(settings.database_url)
    try:
        rows = [d for d in await store.list_decisions() if d.run_id == "a" * 32]
    finally:
        await store.close()

    assert summary.fills > 0, summary.decisions
    entries = [d for d in rows if d.decision_type is DecisionType.ENTRY]
    assert entries
    assert all(name in d.reasoning for d in entries)
    warming = [d for d in rows if "warming up" in d.reasoning]
    assert warming, "the first bars are a warm-up"
    # The warm-up ends: its last row comes before the first entry, and its count is honest.
    assert rows.index(warming[-1]) < rows.index(entries[0])
    assert len(warming) < 300
    assert warming[-1].reasoning.startswith(f"skip: warming up ({len(warming)}/")


async def test_sentiment_scout_alone_says_it_has_no_view_until_a_model_feeds_it(
    tmp_path: Path, data: Path
) -> None:
    settings = alone(tmp_path, data, "sentiment_scout")
    settings = settings.model_copy(update={"max_bars": 400})
    summary = await run(settings, run_id="b" * 32)
    assert summary.fills == 0
    store = await open_store(settings.database_url)
    try:
        rows = [d for d in await store.list_decisions() if d.run_id == "b" * 32]
    finally:
        await store.close()
    assert rows[-1].reasoning == "skip: sentiment_scout has no view at this bar"


async def test_the_volatility_filter_alone_is_refused_in_one_line(
    tmp_path: Path, data: Path
) -> None:
    with pytest.raises(ConfigurationError, match="run it in a committee") as refused:
        await run(alone(tmp_path, data, "volatility_filter"))
    assert "\n" not in refused.value.message
