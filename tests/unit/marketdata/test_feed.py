"""Market feeds: the synthetic feed on a moving clock, paced replays, resampling, the factory."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.errors import (
    ConfigurationError,
    DataError,
    InstrumentNotFoundError,
)
from trading_core.domain.market import Bar, Timeframe
from trading_core.instruments import InstrumentRegistry
from trading_core.marketdata.feed import (
    REPLAY_WARMUP_BARS,
    MarketFeed,
    ReplayFeed,
    SyntheticFeed,
    build_feed,
    resample,
)
from trading_core.marketdata.loaders import LoadedFile, load_bars_frame
from trading_core.marketdata.synthetic import SyntheticSource
from trading_core.marketdata.validation import validate_frame
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
WINDOW = 120


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOW)


@pytest.fixture
async def feed(clock: SimulatedClock) -> AsyncIterator[SyntheticFeed]:
    synthetic = SyntheticFeed(["BTC/USD", "ETH/USD"], seed=7, clock=clock, history_bars=WINDOW)
    yield synthetic
    await synthetic.close()


async def _history_and_close(feed: SyntheticFeed, symbol: str) -> list[Bar]:
    try:
        return await feed.history(symbol)
    finally:
        await feed.close()


# ---- synthetic feed ---------------------------------------------------------------------------


async def test_synthetic_feed_starts_with_a_full_window_of_bars_closed_by_now(
    feed: SyntheticFeed, clock: SimulatedClock
) -> None:
    bars = await feed.history("BTC/USD")

    last_close = clock.now().replace(second=0)
    assert len(bars) == WINDOW
    assert bars[-1].close_time == last_close
    assert bars[0].timestamp == last_close - WINDOW * MINUTE == feed.start
    assert all(
        later.timestamp - earlier.timestamp == MINUTE for earlier, later in itertools.pairwise(bars)
    )
    assert all(bar.symbol == "BTC/USD" and bar.timeframe is Timeframe.M1 for bar in bars)


async def test_synthetic_bars_are_those_of_the_seeded_walk_anchored_a_window_back(
    feed: SyntheticFeed,
) -> None:
    walk = SyntheticSource(
        ["ETH/USD"], seed=7, start=feed.start, timeframe=Timeframe.M1, bars=WINDOW
    )

    assert await feed.history("ETH/USD") == [bar async for bar in walk.bars()]


async def test_a_new_bar_appears_only_once_the_clock_passes_its_close(
    feed: SyntheticFeed, clock: SimulatedClock
) -> None:
    before = await feed.history("BTC/USD")

    clock.advance(timedelta(seconds=3))  # 12:34:59, the 12:34 bar still open
    assert await feed.history("BTC/USD") == before
    clock.advance(timedelta(seconds=1))  # 12:35:00, it has closed
    after = await feed.history("BTC/USD")

    assert after[-1].timestamp == before[-1].timestamp + MINUTE
    assert after[-1].close_time == clock.now()
    assert after[:-1] == before[1:]


async def test_the_feed_generates_at_most_one_bar_beyond_now_and_never_shows_it(
    feed: SyntheticFeed, clock: SimulatedClock
) -> None:
    for _ in range(5):
        clock.advance(timedelta(seconds=47))
        shown = await feed.history("BTC/USD")
        buffered = feed._streams["BTC/USD"].pending

        assert buffered is not None
        assert buffered.close_time > clock.now()
        assert buffered.timestamp == shown[-1].close_time
        assert all(bar.close_time <= clock.now() for bar in shown)


async def test_the_window_stays_bounded_as_the_clock_runs(
    feed: SyntheticFeed, clock: SimulatedClock
) -> None:
    clock.advance(timedelta(hours=3))

    bars = await feed.history("ETH/USD")

    assert len(bars) == WINDOW
    assert bars[-1].close_time == clock.now().replace(second=0)


async def test_a_quote_is_under_one_bar_old_and_centred_on_the_last_close(
    feed: SyntheticFeed, clock: SimulatedClock
) -> None:
    for _ in range(12):
        clock.advance(timedelta(seconds=23))
        quote = await feed.latest_quote("ETH/USD")
        last = (await feed.history("ETH/USD"))[-1]

        assert 0 <= quote.age_seconds(feed.clock.now()) < 60
        assert quote.timestamp == last.close_time
        assert quote.last == last.close
        assert quote.bid < last.close < quote.ask
        assert quote.source == "synthetic:7"


async def test_the_same_seed_and_start_give_identical_bars_and_quotes() -> None:
    first = SyntheticFeed(["BTC/USD"], seed=3, clock=SimulatedClock(NOW), history_bars=60)
    second = SyntheticFeed(["BTC/USD"], seed=3, clock=SimulatedClock(NOW), history_bars=60)
    try:
        assert await first.history("BTC/USD") == await second.history("BTC/USD")
        assert await first.latest_quote("BTC/USD") == await second.latest_quote("BTC/USD")
    finally:
        await first.close()
        await second.close()


async def test_another_seed_or_construction_time_gives_another_walk() -> None:
    base = await _history_and_close(
        SyntheticFeed(["BTC/USD"], seed=3, clock=SimulatedClock(NOW), history_bars=60), "BTC/USD"
    )
    reseeded = await _history_and_close(
        SyntheticFeed(["BTC/USD"], seed=4, clock=SimulatedClock(NOW), history_bars=60), "BTC/USD"
    )
    later = await _history_and_close(
        SyntheticFeed(
            ["BTC/USD"], seed=3, clock=SimulatedClock(NOW + timedelta(hours=1)), history_bars=60
        ),
        "BTC/USD",
    )

    assert [bar.close for bar in reseeded] != [bar.close for bar in base]
    assert later[0].timestamp == base[0].timestamp + timedelta(hours=1)


async def test_prices_and_quotes_sit_on_the_given_tick(clock: SimulatedClock) -> None:
    tick = Decimal("0.1")
    feed = SyntheticFeed(
        ["BTC/USD"],
        seed=1,
        clock=clock,
        history_bars=60,
        start_price={"BTC/USD": Decimal(40_000)},
        tick={"BTC/USD": tick},
    )
    try:
        bars = await feed.history("BTC/USD")
        quote = await feed.latest_quote("BTC/USD")
    finally:
        await feed.close()

    prices = [price for bar in bars for price in (bar.open, bar.high, bar.low, bar.close)]
    assert all(price % tick == 0 for price in prices)
    assert quote.bid % tick == 0
    assert quote.ask % tick == 0
    assert abs(bars[0].open - Decimal(40_000)) < Decimal(400)


async def test_concurrent_readers_share_one_consistent_walk(
    feed: SyntheticFeed, clock: SimulatedClock
) -> None:
    clock.advance(timedelta(minutes=5))

    first, second, quote = await asyncio.gather(
        feed.history("BTC/USD"), feed.history("BTC/USD"), feed.latest_quote("BTC/USD")
    )

    assert first == second
    assert quote.last == first[-1].close


@pytest.mark.parametrize("method", ["history", "latest_quote"])
async def test_a_symbol_the_feed_does_not_serve_is_an_instrument_not_found_error(
    feed: SyntheticFeed, method: str
) -> None:
    with pytest.raises(InstrumentNotFoundError, match="DOGE/USD") as raised:
        await getattr(feed, method)("DOGE/USD")

    assert raised.value.code == "INSTRUMENT_NOT_FOUND"


def test_a_synthetic_feed_refuses_monthly_bars_and_no_symbols(clock: SimulatedClock) -> None:
    with pytest.raises(ValueError, match="fixed-length"):
        SyntheticFeed(["BTC/USD"], seed=1, clock=clock, timeframe=Timeframe.MO1)
    with pytest.raises(ValueError, match="at least one symbol"):
        SyntheticFeed([], seed=1, clock=clock)


# ---- replay feed ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xrp(market_data_dir: Path) -> LoadedFile:
    return load_bars_frame(market_data_dir / "XRP_ETH-5m.feather")


def _bars_of(loaded: LoadedFile) -> list[Bar]:
    return validate_frame(
        loaded.frame, symbol=loaded.symbol, timeframe=loaded.timeframe, now=None
    ).bars()


def _replay(
    files: Sequence[LoadedFile], wall: SimulatedClock, **options: object
) -> tuple[ReplayFeed, SimulatedClock]:
    market = SimulatedClock(datetime(2000, 1, 1, tzinfo=UTC))
    settings: dict[str, object] = {
        "seconds_per_bar": 2.0,
        "start_index": 100,
        "spread_bps": Decimal(10),
        **options,
    }
    feed = ReplayFeed(files, market_clock=market, wall_clock=wall, **settings)  # type: ignore[arg-type]
    return feed, market


async def test_a_replay_starts_on_its_start_bar_with_the_market_clock_at_its_close(
    xrp: LoadedFile,
) -> None:
    bars = _bars_of(xrp)
    feed, market = _replay([xrp], SimulatedClock(NOW))

    history = await feed.history("XRP/ETH")
    quote = await feed.latest_quote("XRP/ETH")

    assert history == bars[:101]
    assert market.now() == bars[100].close_time == feed.clock.now()
    assert quote.timestamp == market.now()
    assert quote.age_seconds(market.now()) == 0
    assert quote.last == bars[100].close
    assert quote.source == "replay:XRP_ETH-5m.feather"


async def test_a_replay_steps_one_bar_per_seconds_per_bar_of_wall_clock(
    xrp: LoadedFile,
) -> None:
    bars = _bars_of(xrp)
    wall = SimulatedClock(NOW)
    feed, market = _replay([xrp], wall)

    wall.advance(timedelta(seconds=1.9))
    assert (await feed.history("XRP/ETH"))[-1] == bars[100]
    wall.advance(timedelta(seconds=0.1))
    assert (await feed.history("XRP/ETH"))[-1] == bars[101]
    wall.advance(timedelta(seconds=10))
    quote = await feed.latest_quote("XRP/ETH")

    assert market.now() == bars[106].close_time
    assert quote.last == bars[106].close
    assert quote.timestamp == market.now()
    assert feed.index == 106


async def test_a_replay_history_keeps_at_most_the_window(xrp: LoadedFile) -> None:
    bars = _bars_of(xrp)
    feed, _ = _replay([xrp], SimulatedClock(NOW), history_bars=30)

    assert await feed.history("XRP/ETH") == bars[71:101]


async def test_a_finished_replay_stays_on_its_last_bar(xrp: LoadedFile) -> None:
    bars = _bars_of(xrp)
    wall = SimulatedClock(NOW)
    feed, market = _replay([xrp], wall)
    finished_at_start = feed.finished

    wall.advance(timedelta(days=1))
    assert not finished_at_start
    assert feed.finished
    assert (await feed.history("XRP/ETH"))[-1] == bars[-1]
    wall.advance(timedelta(days=1))
    quote = await feed.latest_quote("XRP/ETH")

    assert market.now() == bars[-1].close_time
    assert quote.timestamp == bars[-1].close_time
    assert feed.index == feed.steps - 1 == len(bars) - 1


async def test_a_multi_file_replay_steps_through_the_merged_timeline(
    market_data_dir: Path,
) -> None:
    eth = load_bars_frame(market_data_dir / "ETH_BTC-5m.feather")
    ltc = load_bars_frame(market_data_dir / "LTC_BTC-5m.feather")
    eth_bars, ltc_bars = _bars_of(eth), _bars_of(ltc)
    timeline = sorted({bar.timestamp for bar in eth_bars + ltc_bars})
    wall = SimulatedClock(NOW)
    feed, market = _replay([ltc, eth], wall, start_index=10)

    wall.advance(timedelta(seconds=6))

    assert feed.symbols() == ("ETH/BTC", "LTC/BTC")
    assert feed.steps == len(timeline)
    assert market.now() == timeline[10] + timedelta(minutes=5)  # nobody has asked yet
    assert feed.clock.now() == timeline[13] + timedelta(minutes=5)  # reading it catches up
    assert market.now() == feed.clock.now()
    for symbol, bars in (("ETH/BTC", eth_bars), ("LTC/BTC", ltc_bars)):
        expected = [bar for bar in bars if bar.timestamp <= timeline[13]]
        assert await feed.history(symbol) == expected


async def test_a_symbol_with_a_gap_keeps_its_last_quote_and_shows_its_age(
    tmp_path: Path,
) -> None:
    header = "time,open,high,low,close,volume\n"
    hours = [f"2024-01-01 {hour:02d}:00" for hour in range(6)]
    (tmp_path / "AAA-1h.csv").write_text(header + "".join(f"{h},10,11,9,10,1\n" for h in hours))
    (tmp_path / "BBB-1h.csv").write_text(
        header + "".join(f"{h},20,21,19,20,1\n" for h in hours[:3])
    )
    files = [load_bars_frame(tmp_path / name) for name in ("AAA-1h.csv", "BBB-1h.csv")]
    feed, market = _replay(files, SimulatedClock(NOW), start_index=5)

    quote = await feed.latest_quote("BBB")

    assert market.now() == datetime(2024, 1, 1, 6, tzinfo=UTC)
    assert quote.timestamp == datetime(2024, 1, 1, 3, tzinfo=UTC)
    assert quote.age_seconds(market.now()) == 3 * 3600
    assert (await feed.latest_quote("AAA")).timestamp == market.now()


async def test_a_replay_refuses_a_bad_start_and_unknown_symbols(xrp: LoadedFile) -> None:
    with pytest.raises(DataError, match="start_index"):
        _replay([xrp], SimulatedClock(NOW), start_index=10_000)
    with pytest.raises(DataError, match="seconds_per_bar"):
        _replay([xrp], SimulatedClock(NOW), seconds_per_bar=0.0)
    late_market = SimulatedClock(datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(DataError, match="already past"):
        ReplayFeed(
            [xrp],
            market_clock=late_market,
            wall_clock=SimulatedClock(NOW),
            seconds_per_bar=1.0,
            spread_bps=Decimal(1),
        )
    feed, _ = _replay([xrp], SimulatedClock(NOW))
    with pytest.raises(InstrumentNotFoundError):
        await feed.latest_quote("BTC/USD")


# ---- resample ---------------------------------------------------------------------------------


async def _walk(start: datetime, timeframe: Timeframe, count: int) -> list[Bar]:
    source = SyntheticSource(["BTC/USD"], seed=5, start=start, timeframe=timeframe, bars=count)
    return [bar async for bar in source.bars()]


def _pandas_resample(bars: Sequence[Bar], rule: str) -> pd.DataFrame:
    """The reference: pandas' resample of the same bars, complete buckets only."""
    frame = pd.DataFrame(
        {
            "open": [bar.open for bar in bars],
            "high": [bar.high for bar in bars],
            "low": [bar.low for bar in bars],
            "close": [bar.close for bar in bars],
            "volume": [bar.volume for bar in bars],
            "count": 1,
        },
        index=pd.DatetimeIndex([bar.timestamp for bar in bars]),
    )
    aggregated = frame.resample(rule, origin="epoch", closed="left", label="left").agg(
        {
            "open": "first",
            "high": "max",
            "low": "min",
            "close": "last",
            "volume": "sum",
            "count": "sum",
        }
    )
    return aggregated[aggregated["count"] > 0]


def _as_rows(bars: Sequence[Bar]) -> list[tuple[object, ...]]:
    return [(bar.timestamp, bar.open, bar.high, bar.low, bar.close, bar.volume) for bar in bars]


def _frame_rows(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    return [
        (moment.to_pydatetime(), row.open, row.high, row.low, row.close, row.volume)
        for moment, row in zip(frame.index, frame.itertuples(), strict=True)
    ]


@pytest.mark.parametrize(
    ("timeframe", "rule"),
    [(Timeframe.M5, "5min"), (Timeframe.M15, "15min"), (Timeframe.H1, "1h"), (Timeframe.H4, "4h")],
)
async def test_resampling_matches_pandas_on_complete_buckets(
    timeframe: Timeframe, rule: str
) -> None:
    bars = await _walk(datetime(2024, 1, 1, tzinfo=UTC), Timeframe.M1, 600)  # ten hours
    reference = _pandas_resample(bars, rule)
    per_bucket = timeframe.duration // MINUTE
    complete = reference[reference["count"] == per_bucket]

    resampled = resample(bars, timeframe)

    assert _as_rows(resampled) == _frame_rows(complete)
    assert all(bar.timeframe is timeframe and bar.symbol == "BTC/USD" for bar in resampled)
    assert len(resampled) == 600 // per_bucket  # only 4h leaves a partial bucket out


async def test_resampling_drops_partial_buckets_at_both_ends() -> None:
    bars = await _walk(datetime(2024, 1, 1, 0, 7, tzinfo=UTC), Timeframe.M1, 50)  # 00:07-00:57

    resampled = resample(bars, Timeframe.M15)

    assert [bar.timestamp.minute for bar in resampled] == [15, 30]
    assert resample(bars[8:38], Timeframe.M15) == resampled  # 00:15-00:45 exactly


async def test_resampling_aggregates_what_is_there_across_a_gap_like_pandas() -> None:
    bars = await _walk(datetime(2024, 1, 1, tzinfo=UTC), Timeframe.M1, 120)
    gapped = bars[:20] + bars[27:]

    resampled = resample(gapped, Timeframe.M15)

    assert _as_rows(resampled) == _frame_rows(_pandas_resample(gapped, "15min"))
    assert len(resampled) == 8


async def test_daily_bars_resample_into_monday_weeks_and_calendar_months() -> None:
    days = await _walk(datetime(2024, 1, 1, tzinfo=UTC), Timeframe.D1, 90)  # 1 Jan - 30 Mar
    index = pd.DatetimeIndex([bar.timestamp for bar in days]).tz_localize(None)
    frame = pd.DataFrame(
        {"close": [bar.close for bar in days], "volume": [bar.volume for bar in days]},
        index=index,
    )

    weeks = resample(days, Timeframe.W1)
    months = resample(days, Timeframe.MO1)

    week_starts = frame.groupby(index.to_period("W-SUN").start_time)
    month_starts = frame.groupby(index.to_period("M").start_time)
    full_weeks = week_starts.size() == 7  # the week of 25 March is cut short
    assert [bar.timestamp.replace(tzinfo=None) for bar in weeks] == list(
        full_weeks[full_weeks].index
    )
    assert all(bar.timestamp.weekday() == 0 for bar in weeks)
    assert [bar.close for bar in weeks] == list(week_starts["close"].last()[full_weeks])
    # March is not over on 30 March: only January and February are complete.
    assert [bar.timestamp.month for bar in months] == [1, 2]
    assert [bar.volume for bar in months] == list(month_starts["volume"].sum())[:2]


async def test_resample_refuses_finer_or_indivisible_timeframes_and_mixed_input() -> None:
    hours = await _walk(datetime(2024, 1, 1, tzinfo=UTC), Timeframe.H1, 48)
    weeks = await _walk(datetime(2024, 1, 1, tzinfo=UTC), Timeframe.W1, 8)
    other = [bar.model_copy(update={"symbol": "ETH/USD"}) for bar in hours[:2]]

    with pytest.raises(ValueError, match="finer"):
        resample(hours, Timeframe.M15)
    with pytest.raises(ValueError, match="does not divide"):
        resample(weeks, Timeframe.MO1)
    with pytest.raises(ValueError, match="one symbol"):
        resample(hours[:2] + other, Timeframe.D1)
    with pytest.raises(ValueError, match="increasing"):
        resample(list(reversed(hours)), Timeframe.D1)
    assert resample(hours, Timeframe.H1) == hours
    assert resample([], Timeframe.D1) == []


# ---- factory ----------------------------------------------------------------------------------


def _instruments() -> InstrumentRegistry:
    return InstrumentRegistry.from_file(PACKAGED_CONFIG_DIR / "symbols.toml")


async def test_with_nothing_configured_the_factory_builds_a_synthetic_feed(tmp_path: Path) -> None:
    settings = load_settings(config_dir=tmp_path)
    clock = SimulatedClock(NOW)

    feed: MarketFeed = build_feed(settings, _instruments(), clock)
    try:
        quote = await feed.latest_quote("BTC/USD")
        bars = await feed.history("ETH/USD")
    finally:
        await feed.close()

    assert isinstance(feed, SyntheticFeed)
    assert tuple(feed.symbols()) == tuple(sorted(settings.synthetic.symbols))
    assert feed.timeframe is Timeframe(settings.mcp.feed_timeframe)
    assert len(bars) == settings.mcp.history_bars
    tick = _instruments().get("BTC/USD").tick_size
    assert quote.bid % tick == 0
    assert quote.source == f"synthetic:{settings.seed}"


async def test_the_factory_builds_a_replay_that_starts_warm(
    tmp_path: Path, market_data_dir: Path
) -> None:
    settings = load_settings(
        config_dir=tmp_path, source="replay", data=[market_data_dir / "XRP_ETH-5m.feather"]
    )

    feed = build_feed(settings, _instruments(), SimulatedClock(NOW))
    bars = await feed.history("XRP/ETH")

    assert isinstance(feed, ReplayFeed)
    assert len(bars) == min(REPLAY_WARMUP_BARS, feed.steps // 2) + 1
    assert feed.clock.now() == bars[-1].close_time


def test_the_factory_refuses_what_it_cannot_serve(tmp_path: Path, market_data_dir: Path) -> None:
    instruments = _instruments()
    clock = SimulatedClock(NOW)

    with pytest.raises(ConfigurationError, match="data file"):
        build_feed(load_settings(config_dir=tmp_path, source="replay"), instruments, clock)
    with pytest.raises(ConfigurationError, match="the ib source is not available"):
        build_feed(load_settings(config_dir=tmp_path, source="ib"), instruments, clock)
    with pytest.raises(InstrumentNotFoundError):
        build_feed(load_settings(config_dir=tmp_path, symbols=["DOGE/USD"]), instruments, clock)
    unlisted = tmp_path / "DOGE_USD-1h.csv"
    unlisted.write_text("time,open,high,low,close,volume\n2024-01-01 00:00,1,1,1,1,1\n")
    replay = load_settings(config_dir=tmp_path, source="replay", data=[unlisted])
    with pytest.raises(InstrumentNotFoundError, match="DOGE/USD"):
        build_feed(replay, instruments, clock)
    xrp_only = load_settings(
        config_dir=tmp_path,
        source="replay",
        data=[market_data_dir / "XRP_ETH-5m.feather"],
        symbols=["ETH/BTC"],
    )
    with pytest.raises(ConfigurationError, match="ETH/BTC not in the data files"):
        build_feed(xrp_only, instruments, clock)
