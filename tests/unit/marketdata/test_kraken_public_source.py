"""Kraken's public feed, with recorded REST responses plugged in under ccxt's parsing.

The fake replaces only the exchange instance's ``fetch`` (the HTTP call, which receives the
URL): ccxt's market loading, request building and response parsing all run for real.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import ccxt.async_support as ccxt
import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.errors import ConfigurationError, InstrumentNotFoundError
from trading_core.domain.market import Bar, Timeframe
from trading_core.marketdata.kraken import KrakenPublicSource
from trading_core.ports.market_data import MarketDataSource

# The recorded XBT/USD candles run 12:00 to 12:55 closed, 13:00 still forming.
FIRST_POLL = datetime(2025, 1, 6, 13, 2, 30, tzinfo=UTC)


class RecordedKraken:
    """Answers ccxt's HTTP calls from fixture files, keyed by endpoint and pair."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.urls: list[str] = []
        self.ohlc: dict[str, list[str]] = {
            "XXBTZUSD": ["ohlc_XXBTZUSD_5m.json", "ohlc_XXBTZUSD_5m_next_poll.json"],
            "XETHZUSD": ["ohlc_XETHZUSD_5m.json"],
        }
        self.failures: list[Exception] = []

    async def fetch(
        self,
        url: str,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> object:
        self.urls.append(url)
        assert method == "GET"
        assert body is None
        parts = urlsplit(url)
        pair = parse_qs(parts.query).get("pair", [""])[0]
        if parts.path == "/0/public/Assets":
            return self._load("assets.json")
        if parts.path == "/0/public/AssetPairs":
            return self._load("asset_pairs.json")
        if parts.path == "/0/public/Ticker":
            return self._load(f"ticker_{pair}.json")
        if parts.path == "/0/public/OHLC":
            if self.failures:
                raise self.failures.pop(0)
            recordings = self.ohlc[pair]
            name = recordings.pop(0) if len(recordings) > 1 else recordings[0]
            return self._load(name)
        raise AssertionError(f"unexpected request {url}")

    def _load(self, name: str) -> object:
        return json.loads((self.directory / name).read_text())


@pytest.fixture
def recorded(kraken_fixtures_dir: Path) -> RecordedKraken:
    return RecordedKraken(kraken_fixtures_dir)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(FIRST_POLL)


@pytest.fixture
async def exchange(recorded: RecordedKraken) -> AsyncIterator[ccxt.kraken]:
    instance = ccxt.kraken({"enableRateLimit": False})
    instance.fetch = recorded.fetch
    yield instance
    await instance.close()


def _source(
    exchange: ccxt.kraken,
    clock: SimulatedClock,
    symbols: tuple[str, ...] = ("BTC/USD",),
    **options: object,
) -> KrakenPublicSource:
    async def advance(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    return KrakenPublicSource(
        symbols,
        Timeframe.M5,
        exchange=exchange,
        clock=clock,
        sleep=advance,
        **options,  # type: ignore[arg-type]
    )


async def _collect(source: MarketDataSource) -> list[Bar]:
    return [bar async for bar in source.bars()]


async def test_first_poll_yields_the_closed_history_and_drops_the_forming_candle(
    exchange: ccxt.kraken, clock: SimulatedClock
) -> None:
    source = _source(exchange, clock, history_bars=100, max_polls=1)

    bars = await _collect(source)

    assert len(bars) == 12  # 13 recorded candles, the last still forming
    assert bars[0].timestamp == datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
    assert bars[-1].timestamp == datetime(2025, 1, 6, 12, 55, tzinfo=UTC)
    first = bars[0]
    # [1736164800,"101990.0","102013.1","101779.4","101840.2","101905.7","3.31572007",300]
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        Decimal("101990.0"),
        Decimal("102013.1"),
        Decimal("101779.4"),
        Decimal("101840.2"),
        Decimal("3.31572007"),
    )
    assert all(bar.symbol == "BTC/USD" and bar.timeframe is Timeframe.M5 for bar in bars)


async def test_history_is_limited_to_the_requested_number_of_bars(
    exchange: ccxt.kraken, clock: SimulatedClock
) -> None:
    bars = await _collect(_source(exchange, clock, history_bars=3, max_polls=1))

    assert [bar.timestamp.minute for bar in bars] == [45, 50, 55]


async def test_without_history_only_bars_closing_after_the_start_are_yielded(
    exchange: ccxt.kraken, clock: SimulatedClock
) -> None:
    bars = await _collect(_source(exchange, clock, max_polls=2))

    assert [bar.timestamp for bar in bars] == [datetime(2025, 1, 6, 13, 0, tzinfo=UTC)]


async def test_later_polls_yield_only_new_closed_bars_once_the_clock_passes_their_close(
    exchange: ccxt.kraken, clock: SimulatedClock, recorded: RecordedKraken
) -> None:
    source = _source(exchange, clock, history_bars=1, max_polls=3)
    polled_at: list[tuple[datetime, datetime]] = []

    async for bar in source.bars():
        polled_at.append((bar.timestamp, clock.now()))

    # Poll 2 at 13:05:02 sees 13:00 final (13:05 is listed as closed but the clock says it
    # is not: dropped); poll 3 at 13:10:02 takes 13:05.
    assert polled_at == [
        (datetime(2025, 1, 6, 12, 55, tzinfo=UTC), FIRST_POLL),
        (datetime(2025, 1, 6, 13, 0, tzinfo=UTC), datetime(2025, 1, 6, 13, 5, 2, tzinfo=UTC)),
        (datetime(2025, 1, 6, 13, 5, tzinfo=UTC), datetime(2025, 1, 6, 13, 10, 2, tzinfo=UTC)),
    ]
    ohlc_urls = [url for url in recorded.urls if "/OHLC" in url]
    assert "since=" not in ohlc_urls[0]
    assert "since=" in ohlc_urls[1]


async def test_the_bar_that_was_forming_is_yielded_with_its_final_values(
    exchange: ccxt.kraken, clock: SimulatedClock
) -> None:
    bars = await _collect(_source(exchange, clock, max_polls=2))

    (bar,) = bars
    # the first recording had it forming at close 101399.3, volume 0.4125
    assert (bar.close, bar.volume) == (Decimal("101457.3"), Decimal("4.98396371"))


async def test_two_symbols_are_merged_by_time_then_symbol(
    exchange: ccxt.kraken, clock: SimulatedClock
) -> None:
    source = _source(exchange, clock, ("ETH/USD", "BTC/USD"), history_bars=2, max_polls=1)

    bars = await _collect(source)

    assert [(bar.timestamp.minute, bar.symbol) for bar in bars] == [
        (50, "BTC/USD"),
        (50, "ETH/USD"),
        (55, "BTC/USD"),
        (55, "ETH/USD"),
    ]
    assert source.symbols() == ("BTC/USD", "ETH/USD")


async def test_only_public_endpoints_are_called_and_no_key_is_configured(
    exchange: ccxt.kraken, clock: SimulatedClock, recorded: RecordedKraken
) -> None:
    source = _source(exchange, clock, history_bars=1, max_polls=1)

    await _collect(source)
    await source.latest_quote("BTC/USD")

    assert not exchange.apiKey
    assert recorded.urls
    assert all(urlsplit(url).path.startswith("/0/public/") for url in recorded.urls)
    assert {urlsplit(url).path for url in recorded.urls} == {
        "/0/public/Assets",
        "/0/public/AssetPairs",
        "/0/public/OHLC",
        "/0/public/Ticker",
    }


async def test_quote_comes_from_the_ticker_stamped_with_the_clock(
    exchange: ccxt.kraken, clock: SimulatedClock
) -> None:
    quote = await _source(exchange, clock).latest_quote("BTC/USD")

    assert quote is not None
    assert (quote.bid, quote.ask, quote.last) == (
        Decimal("101457.3"),
        Decimal("101457.4"),
        Decimal("101457.3"),
    )
    assert quote.volume == Decimal("1893.0671952")
    assert quote.timestamp == FIRST_POLL  # Kraken's ticker carries no time
    assert quote.source == "kraken"


async def test_unknown_symbol_is_reported_as_not_found(
    exchange: ccxt.kraken, clock: SimulatedClock
) -> None:
    source = _source(exchange, clock, ("DOGE/USD",), max_polls=1)

    with pytest.raises(InstrumentNotFoundError, match="DOGE/USD"):
        await _collect(source)
    with pytest.raises(InstrumentNotFoundError, match="DOGE/USD"):
        await source.latest_quote("DOGE/USD")


async def test_a_network_failure_skips_one_poll_and_the_stream_carries_on(
    exchange: ccxt.kraken, clock: SimulatedClock, recorded: RecordedKraken
) -> None:
    await exchange.load_markets()
    recorded.failures.append(ccxt.NetworkError("kraken GET /0/public/OHLC timed out"))
    source = _source(exchange, clock, history_bars=1, max_polls=3)

    bars = await _collect(source)

    # poll 1 failed; poll 2 (13:05:02) gets the first answer and yields its history (12:55);
    # poll 3 (13:10:02) the next answer, where 13:00 and 13:05 have both closed.
    assert [bar.timestamp.strftime("%H:%M") for bar in bars] == ["12:55", "13:00", "13:05"]


async def test_closing_the_source_closes_the_exchange(recorded: RecordedKraken) -> None:
    exchange = ccxt.kraken({"enableRateLimit": False})
    exchange.fetch = recorded.fetch
    source = KrakenPublicSource(["BTC/USD"], Timeframe.M5, exchange=exchange)

    await source.close()

    assert exchange.closed_by_user


def test_a_timeframe_kraken_does_not_serve_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="no 1M candles"):
        KrakenPublicSource(["BTC/USD"], Timeframe.MO1)
