"""Replaying files: merge order, windows, quotes, the simulated clock and paced replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.errors import DataError
from trading_core.domain.market import Bar, Timeframe
from trading_core.marketdata.loaders import load_bars_frame
from trading_core.marketdata.replay import ReplaySource
from trading_core.marketdata.validation import DropReason
from trading_core.ports.market_data import MarketDataSource


async def _collect(source: MarketDataSource) -> list[Bar]:
    return [bar async for bar in source.bars()]


def _csv(directory: Path, name: str, rows: list[str]) -> Path:
    path = directory / name
    path.write_text("time,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    return path


async def test_two_symbols_are_merged_by_time_with_ties_broken_by_symbol(
    market_data_dir: Path,
) -> None:
    source = ReplaySource(
        [market_data_dir / "LTC_BTC-5m.feather", market_data_dir / "ETH_BTC-5m.feather"],
        spread_bps=Decimal(10),
        max_bars=40,
    )

    bars = await _collect(source)

    assert len(bars) == 40
    assert [(bar.timestamp, bar.symbol) for bar in bars] == sorted(
        (bar.timestamp, bar.symbol) for bar in bars
    )
    assert [bar.symbol for bar in bars[:2]] == ["ETH/BTC", "LTC/BTC"]
    assert bars[0].timestamp == bars[1].timestamp == datetime(2018, 1, 10, 4, 55, tzinfo=UTC)
    assert source.symbols() == ("ETH/BTC", "LTC/BTC")
    assert source.timeframe is Timeframe.M5


async def test_a_full_replay_yields_every_validated_bar_once(market_data_dir: Path) -> None:
    source = ReplaySource([market_data_dir / "XRP_ETH-5m.feather"], spread_bps=Decimal(0))

    bars = await _collect(source)

    assert len(bars) == 706
    assert bars[0].close == Decimal("0.00141192")
    assert len({bar.timestamp for bar in bars}) == 706
    assert source.quality_reports["XRP/ETH"].accepted == 706


async def test_bad_rows_never_reach_consumers_and_are_reported(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "ABC-1h.csv",
        [
            "2024-01-01 00:00,10,11,9,10,1",
            "2024-01-01 01:00,10,11,9,-10,1",
            "2024-01-01 02:00,10,11,9,10.5,1",
            "2024-01-01 02:00,10,11,9,10.6,1",
        ],
    )
    source = ReplaySource([path], spread_bps=Decimal(10))

    bars = await _collect(source)

    assert [bar.close for bar in bars] == [Decimal(10), Decimal("10.6")]
    report = source.quality_reports["ABC"]
    assert report.dropped_count(DropReason.NON_POSITIVE_PRICE) == 1
    assert report.dropped_count(DropReason.DUPLICATE_TIMESTAMP) == 1


async def test_quote_is_around_the_last_close_at_the_bar_close_time(
    market_data_dir: Path,
) -> None:
    source = ReplaySource(
        [load_bars_frame(market_data_dir / "GOOG.csv")], spread_bps=Decimal(10), max_bars=1
    )
    assert await source.latest_quote("GOOG") is None

    (bar,) = await _collect(source)
    quote = await source.latest_quote("GOOG")

    assert quote is not None
    assert bar.close == Decimal("100.34")
    # 10 bps of 100.34 is 0.10034: half on each side, rounded outwards to 8 digits.
    assert (quote.bid, quote.ask, quote.last) == (
        Decimal("100.28983"),
        Decimal("100.39017"),
        Decimal("100.34"),
    )
    assert quote.timestamp == datetime(2004, 8, 20, tzinfo=UTC) == bar.close_time
    assert quote.source == "replay:GOOG.csv"
    assert quote.volume == bar.volume
    assert await source.latest_quote("MSFT") is None


async def test_start_is_inclusive_end_is_exclusive_and_max_bars_caps_the_total(
    market_data_dir: Path,
) -> None:
    start = datetime(2018, 1, 11, tzinfo=UTC)
    source = ReplaySource(
        [market_data_dir / "ETH_BTC-5m.feather"],
        spread_bps=Decimal(5),
        start=start,
        end=start + timedelta(hours=1),
    )

    bars = await _collect(source)

    assert [bar.timestamp for bar in bars] == [start + timedelta(minutes=5 * i) for i in range(12)]


async def test_the_clock_shows_each_bar_close_time_while_it_is_handled(
    market_data_dir: Path,
) -> None:
    clock = SimulatedClock(datetime(2000, 1, 1, tzinfo=UTC))
    source = ReplaySource(
        [market_data_dir / "EURUSD.csv"], spread_bps=Decimal(1), clock=clock, max_bars=3
    )

    seen = [(bar.close_time, clock.now()) async for bar in source.bars()]

    assert all(close_time == now for close_time, now in seen)
    assert clock.now() == datetime(2017, 4, 19, 12, tzinfo=UTC)


async def test_paced_replay_sleeps_the_recorded_gap_divided_by_speed(
    market_data_dir: Path,
) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    source = ReplaySource(
        [market_data_dir / "ETH_BTC-5m.feather", market_data_dir / "LTC_BTC-5m.feather"],
        spread_bps=Decimal(5),
        max_bars=6,
        speed=60,
        sleep=record,
    )

    await _collect(source)

    # Three timestamps, two symbols each: one wait of 300 s / 60 between timestamps only.
    assert slept == [5.0, 5.0]


async def test_unpaced_replay_never_sleeps(market_data_dir: Path) -> None:
    async def forbidden(seconds: float) -> None:
        raise AssertionError(f"slept {seconds}")

    source = ReplaySource(
        [market_data_dir / "XRP_ETH-5m.feather"], spread_bps=Decimal(5), sleep=forbidden
    )

    assert len(await _collect(source)) == 706


async def test_each_iteration_starts_the_replay_over(market_data_dir: Path) -> None:
    source = ReplaySource(
        [market_data_dir / "XRP_ETH-5m.feather"], spread_bps=Decimal(5), max_bars=5
    )

    assert await _collect(source) == await _collect(source)


def test_files_of_different_timeframes_cannot_be_merged(market_data_dir: Path) -> None:
    with pytest.raises(DataError, match="share one timeframe"):
        ReplaySource(
            [market_data_dir / "GOOG.csv", market_data_dir / "EURUSD.csv"],
            spread_bps=Decimal(5),
        )


def test_one_symbol_from_two_files_is_refused(market_data_dir: Path) -> None:
    with pytest.raises(DataError, match="UNITTEST/BTC comes from two files"):
        ReplaySource(
            [
                market_data_dir / "UNITTEST_BTC-5m.feather",
                load_bars_frame(market_data_dir / "ETH_BTC-5m.feather", symbol="UNITTEST/BTC"),
            ],
            spread_bps=Decimal(5),
        )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"spread_bps": Decimal(-1)}, "spread must not be negative"),
        ({"spread_bps": Decimal(1), "speed": -1}, "speed must be 0"),
        ({"spread_bps": Decimal(1), "max_bars": -1}, "max_bars must not be negative"),
    ],
)
def test_invalid_settings_are_refused(
    market_data_dir: Path, arguments: dict[str, Decimal | int], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        ReplaySource([market_data_dir / "GOOG.csv"], **arguments)  # type: ignore[arg-type]


def test_a_replay_needs_files() -> None:
    with pytest.raises(DataError, match="at least one file"):
        ReplaySource([], spread_bps=Decimal(1))
