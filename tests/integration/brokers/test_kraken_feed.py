"""The MCP servers' Kraken feed against the Kraken fake over real HTTP (recorded shapes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from trading_core.adapters.clock import SystemClock
from trading_core.domain.errors import DataError, InstrumentNotFoundError
from trading_core.domain.market import Timeframe
from trading_core.instruments import InstrumentRegistry
from trading_core.marketdata.feed import build_feed
from trading_core.marketdata.kraken_feed import KrakenFeed
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings

from .kraken_fake import KrakenFake


@pytest.fixture
async def feed(kraken: KrakenFake) -> AsyncIterator[KrakenFeed]:
    opened = KrakenFeed(
        ["BTC/USD"], Timeframe.M1, clock=SystemClock(), history_bars=30, api_url=kraken.url
    )
    yield opened
    await opened.close()


async def test_history_is_the_closed_candles_asked_once_per_bar(
    feed: KrakenFeed, kraken: KrakenFake
) -> None:
    bars = await feed.history("BTC/USD")
    assert len(bars) == 30  # the window, from the fake's 59 closed candles (the 60th forms)
    assert all(bar.close == Decimal("40000.0") for bar in bars)
    assert bars[-1].close_time <= SystemClock().now()
    assert [b.timestamp for b in bars] == sorted(b.timestamp for b in bars)
    again = await feed.history("BTC/USD")
    assert again == bars
    assert len(kraken.calls("OHLC")) in (1, 2)  # twice only if a minute turned in between


async def test_quotes_come_from_the_ticker_and_a_missing_one_is_an_error(
    feed: KrakenFeed, kraken: KrakenFake
) -> None:
    kraken.prices["XXBTZUSD"] = Decimal("41234.5")
    quote = await feed.latest_quote("BTC/USD")
    assert quote.last == Decimal("41234.5")
    assert quote.source == "kraken"
    with pytest.raises(InstrumentNotFoundError, match="ETH/USD"):
        await feed.latest_quote("ETH/USD")
    await kraken.stop()  # Kraken unreachable: no stale price, an error that says so
    with pytest.raises(DataError, match="cannot be had"):
        await feed.latest_quote("BTC/USD")


def test_the_factory_builds_it_for_source_kraken(kraken: KrakenFake) -> None:
    settings = load_settings(
        config_dir=PACKAGED_CONFIG_DIR,
        source="kraken",
        symbols=["BTC/USD"],
        kraken={"api_url": kraken.url},
    )
    instruments = InstrumentRegistry.from_file(settings.symbols_file)
    built = build_feed(settings, instruments, SystemClock())
    assert isinstance(built, KrakenFeed)
    assert list(built.symbols()) == ["BTC/USD"]
    assert built.timeframe is Timeframe.M1
