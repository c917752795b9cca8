"""IbMarketDataSource through a real ib_async.IB over TCP against the local IB Gateway fake."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ib_async import IB

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.errors import ConfigurationError, InstrumentNotFoundError
from trading_core.domain.market import Bar, Timeframe
from trading_core.marketdata.ib import IbMarketDataSource

from .ib_fake import IN_HISTORICAL_DATA, IbGatewayFake

START = datetime(2025, 1, 6, 13, 2, 30, tzinfo=UTC)
"""A Monday; the 5-minute bar that opened at 13:00 is still forming."""
FIVE = timedelta(minutes=5)
WAIT = 3.0


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
async def gateway(clock: SimulatedClock) -> AsyncIterator[IbGatewayFake]:
    fake = IbGatewayFake()
    fake.now = clock.now
    # GOOG bar i opens at 175 + i/4 and closes 1/4 higher; EUR.USD's climb by 0.0001.
    fake.serve_flat_bars(
        "GOOG", FIVE, START.replace(hour=12, minute=0), START.replace(hour=14),
        price=Decimal("175"), step=Decimal("0.25"), volume=Decimal("1200"),
    )  # fmt: skip
    fake.serve_flat_bars(
        "EUR.USD", FIVE, START.replace(hour=12, minute=0), START.replace(hour=14),
        price=Decimal("1.0800"), step=Decimal("0.0001"),
    )  # fmt: skip
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def ib(gateway: IbGatewayFake) -> AsyncIterator[IB]:
    client = IB()
    await client.connectAsync("127.0.0.1", gateway.port, clientId=9, timeout=WAIT)
    yield client
    client.disconnect()


def source(
    ib: IB, clock: SimulatedClock, symbols: tuple[str, ...] = ("GOOG",), **options: object
) -> IbMarketDataSource:
    async def advance(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    return IbMarketDataSource(
        ib,
        symbols,
        Timeframe.M5,
        clock=clock,
        sleep=advance,
        request_timeout=WAIT,
        **options,  # type: ignore[arg-type]
    )


async def collect(feed: IbMarketDataSource) -> list[Bar]:
    async with asyncio.timeout(4 * WAIT):
        return [bar async for bar in feed.bars()]


def hhmm(bars: list[Bar]) -> list[str]:
    return [bar.timestamp.strftime("%H:%M") for bar in bars]


async def test_first_poll_yields_the_closed_history_never_the_forming_bar(
    ib: IB, clock: SimulatedClock, gateway: IbGatewayFake
) -> None:
    bars = await collect(source(ib, clock, history_bars=3, max_polls=1))

    assert hhmm(bars) == ["12:45", "12:50", "12:55"]  # 13:00 is still forming at 13:02:30
    first = bars[0]  # bar 9 of the day: opens 175 + 9/4
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        Decimal("177.25"),
        Decimal("177.5"),
        Decimal("177.25"),
        Decimal("177.5"),
        Decimal("1200"),
    )
    assert all(isinstance(bar.close, Decimal) for bar in bars)
    assert all(bar.symbol == "GOOG" and bar.timeframe is Timeframe.M5 for bar in bars)
    (request,) = gateway.calls(IN_HISTORICAL_DATA)
    # endDateTime, barSizeSetting, (durationStr), useRTH, whatToShow, formatDate, keepUpToDate
    assert request[15:17] == ["", "5 mins"]
    assert request[18:22] == ["0", "TRADES", "2", "0"]


async def test_the_whole_history_when_fewer_bars_exist_than_asked(
    ib: IB, clock: SimulatedClock
) -> None:
    bars = await collect(source(ib, clock, history_bars=500, max_polls=1))

    assert len(bars) == 12  # 12:00 .. 12:55; nothing before 12:00 is served
    assert (bars[0].timestamp, bars[-1].timestamp) == (
        START.replace(hour=12, minute=0, second=0),
        START.replace(hour=12, minute=55, second=0),
    )


async def test_later_polls_yield_only_newer_bars_with_their_final_values(
    ib: IB, clock: SimulatedClock
) -> None:
    feed = source(ib, clock, history_bars=1, max_polls=3)
    polled_at: list[tuple[str, datetime]] = []
    bars: list[Bar] = []

    async with asyncio.timeout(4 * WAIT):
        async for bar in feed.bars():
            bars.append(bar)
            polled_at.append((bar.timestamp.strftime("%H:%M"), clock.now()))

    assert polled_at == [
        ("12:55", START),
        ("13:00", datetime(2025, 1, 6, 13, 5, 2, tzinfo=UTC)),
        ("13:05", datetime(2025, 1, 6, 13, 10, 2, tzinfo=UTC)),
    ]
    # At the first poll 13:00 was forming (served as open 178.00 everywhere, volume 600).
    assert (bars[1].open, bars[1].close, bars[1].volume) == (
        Decimal("178.0"),
        Decimal("178.25"),
        Decimal("1200"),
    )


async def test_without_history_only_bars_closing_after_the_start_are_yielded(
    ib: IB, clock: SimulatedClock
) -> None:
    bars = await collect(source(ib, clock, max_polls=2))

    assert hhmm(bars) == ["13:00"]


async def test_without_history_the_first_bar_of_a_market_opening_later_is_yielded(
    ib: IB, clock: SimulatedClock, gateway: IbGatewayFake
) -> None:
    opening = START.replace(minute=5, second=0)
    gateway.serve_flat_bars("GOOG", FIVE, opening, START.replace(hour=14), price=Decimal("175"))

    bars = await collect(source(ib, clock, max_polls=3))

    # poll 1 (13:02:30) gets no bars at all, poll 2 (13:05:02) only the forming 13:05 bar,
    # poll 3 (13:10:02) 13:05 closed: the session's first bar, not a baseline to skip.
    assert hhmm(bars) == ["13:05"]


async def test_two_symbols_are_merged_by_time_then_symbol(
    ib: IB, clock: SimulatedClock, gateway: IbGatewayFake
) -> None:
    feed = source(ib, clock, ("GOOG", "EUR/USD"), history_bars=2, max_polls=1)

    bars = await collect(feed)

    assert [(bar.timestamp.strftime("%H:%M"), bar.symbol) for bar in bars] == [
        ("12:50", "EUR/USD"),
        ("12:50", "GOOG"),
        ("12:55", "EUR/USD"),
        ("12:55", "GOOG"),
    ]
    assert feed.symbols() == ("EUR/USD", "GOOG")
    fx = [bar for bar in bars if bar.symbol == "EUR/USD"]
    assert [bar.close for bar in fx] == [Decimal("1.0811"), Decimal("1.0812")]  # bars 10, 11
    assert all(bar.volume == 0 for bar in fx)  # IB sends MIDPOINT volume as -1
    shows = {(request[3], request[19]) for request in gateway.calls(IN_HISTORICAL_DATA)}
    assert shows == {("EUR", "MIDPOINT"), ("GOOG", "TRADES")}


async def test_an_ib_error_162_skips_one_poll_and_the_stream_carries_on(
    ib: IB, clock: SimulatedClock, gateway: IbGatewayFake, caplog: pytest.LogCaptureFixture
) -> None:
    gateway.fail_next_historical()
    caplog.set_level(logging.WARNING, logger="trading_core.marketdata.ib")

    bars = await collect(source(ib, clock, history_bars=1, max_polls=3))

    # poll 1 (13:02:30) refused; poll 2 (13:05:02) yields its history (13:00), poll 3 13:05.
    assert hhmm(bars) == ["13:00", "13:05"]
    assert len(gateway.calls(IN_HISTORICAL_DATA)) == 3
    assert any("IB error 162" in record.getMessage() for record in caplog.records)


async def test_an_unknown_symbol_is_reported_as_not_found(ib: IB, clock: SimulatedClock) -> None:
    feed = source(ib, clock, ("ZZZZ",), max_polls=1)

    with pytest.raises(InstrumentNotFoundError, match="ZZZZ"):
        await collect(feed)
    with pytest.raises(InstrumentNotFoundError, match="ZZZZ"):
        await feed.latest_quote("ZZZZ")


async def test_a_stock_quote_is_a_snapshot_in_decimals_stamped_with_the_clock(
    ib: IB, clock: SimulatedClock, gateway: IbGatewayFake
) -> None:
    gateway.volumes["GOOG"] = Decimal("1834500")

    quote = await source(ib, clock).latest_quote("GOOG")

    assert quote is not None
    assert (quote.bid, quote.ask, quote.last) == (
        Decimal("175.24"),
        Decimal("175.26"),
        Decimal("175.25"),
    )
    assert all(isinstance(v, Decimal) for v in (quote.bid, quote.ask, quote.last, quote.volume))
    assert str(quote.last) == "175.25"  # through the float's repr, no binary tail
    assert quote.volume == Decimal("1834500")
    assert (quote.timestamp, quote.source) == (START, "ib")


async def test_a_currency_pair_without_a_last_trade_is_quoted_at_the_midpoint(
    ib: IB, clock: SimulatedClock
) -> None:
    quote = await source(ib, clock).latest_quote("EUR/USD")

    assert quote is not None
    assert (quote.bid, quote.ask) == (Decimal("1.08495"), Decimal("1.08505"))
    assert quote.last == Decimal("1.085")
    assert quote.volume == 0


async def test_while_disconnected_quotes_are_none_and_polls_are_skipped(
    ib: IB, clock: SimulatedClock, gateway: IbGatewayFake
) -> None:
    port = gateway.port
    reconnected: list[datetime] = []

    async def reconnect_while_waiting(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))
        if not ib.isConnected():
            await ib.connectAsync("127.0.0.1", port, clientId=9, timeout=WAIT)
            reconnected.append(clock.now())

    ib.disconnect()
    feed = IbMarketDataSource(
        ib, ["GOOG"], Timeframe.M5, clock=clock, sleep=reconnect_while_waiting,
        history_bars=1, max_polls=2, request_timeout=WAIT,
    )  # fmt: skip

    assert await feed.latest_quote("GOOG") is None
    bars = await collect(feed)

    # poll 1 skipped (no request sent), the caller reconnects, poll 2 yields the history.
    assert reconnected == [datetime(2025, 1, 6, 13, 5, 2, tzinfo=UTC)]
    assert hhmm(bars) == ["13:00"]
    assert len(gateway.calls(IN_HISTORICAL_DATA)) == 1
    assert await feed.latest_quote("GOOG") is not None


async def test_closing_the_source_leaves_the_shared_connection_open(
    ib: IB, clock: SimulatedClock
) -> None:
    feed = source(ib, clock)

    await feed.close()

    assert ib.isConnected()


async def test_a_timeframe_ib_is_not_asked_for_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="no 1w bars"):
        IbMarketDataSource(IB(), ["GOOG"], Timeframe.W1)
