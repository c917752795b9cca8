"""Reading bar files: every shipped file, each supported format, and clear errors."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from trading_core.domain.errors import DataError
from trading_core.domain.market import Timeframe
from trading_core.marketdata.loaders import (
    BAR_COLUMNS,
    DEFAULT_TRADES_TIMEFRAME,
    load_bars_frame,
    parse_file_name,
)

# file -> (symbol, timeframe, rows): every data file in the shared directory.
EXPECTED_FILES = {
    "ADA_BTC-5m.feather": ("ADA/BTC", Timeframe.M5, 5720),
    "BCHEUR.csv": ("BCH/EUR", DEFAULT_TRADES_TIMEFRAME, 67),
    "BTCUSD.csv": ("BTC/USD", Timeframe.MO1, 156),
    "DASH_BTC-5m.feather": ("DASH/BTC", Timeframe.M5, 5758),
    "ETC_BTC-5m.feather": ("ETC/BTC", Timeframe.M5, 5759),
    "ETH_BTC-5m.feather": ("ETH/BTC", Timeframe.M5, 5760),
    "EURUSD.csv": ("EUR/USD", Timeframe.H1, 5000),
    "GOOG.csv": ("GOOG", Timeframe.D1, 2148),
    "LTC_BTC-5m.feather": ("LTC/BTC", Timeframe.M5, 5760),
    "NXT_BTC-5m.feather": ("NXT/BTC", Timeframe.M5, 5760),
    "TRX_BTC-5m.feather": ("TRX/BTC", Timeframe.M5, 5754),
    "UNITTEST_BTC-1m.feather": ("UNITTEST/BTC", Timeframe.M1, 13681),
    "UNITTEST_BTC-30m.feather": ("UNITTEST/BTC", Timeframe.M30, 1920),
    "UNITTEST_BTC-5m.feather": ("UNITTEST/BTC", Timeframe.M5, 5760),
    "XLM_BTC-5m.feather": ("XLM/BTC", Timeframe.M5, 5760),
    "XMR_BTC-5m.feather": ("XMR/BTC", Timeframe.M5, 5758),
    "XRP_ETH-5m.feather": ("XRP/ETH", Timeframe.M5, 706),
    "XRP_ETH-trades.feather": ("XRP/ETH", Timeframe.M5, 706),
    "ZEC_BTC-5m.feather": ("ZEC/BTC", Timeframe.M5, 5757),
}


def test_every_shipped_data_file_is_known_to_this_test(market_data_dir: Path) -> None:
    shipped = {path.name for path in market_data_dir.iterdir() if path.suffix != ".md"}
    assert shipped == set(EXPECTED_FILES)


@pytest.mark.parametrize("file_name", sorted(EXPECTED_FILES))
def test_every_shipped_file_loads_with_symbol_timeframe_and_utc_times(
    market_data_dir: Path, file_name: str
) -> None:
    loaded = load_bars_frame(market_data_dir / file_name)

    symbol, timeframe, rows = EXPECTED_FILES[file_name]
    assert (loaded.symbol, loaded.timeframe, len(loaded.frame)) == (symbol, timeframe, rows)
    assert tuple(loaded.frame.columns) == BAR_COLUMNS
    assert str(loaded.frame["time"].dtype) == "datetime64[ns, UTC]"
    assert all(loaded.frame[name].dtype == "float64" for name in BAR_COLUMNS[1:])
    assert loaded.frame.notna().all().all()


def test_unnamed_first_column_csv_is_read_with_its_dates_and_capitalised_columns(
    market_data_dir: Path,
) -> None:
    first = load_bars_frame(market_data_dir / "GOOG.csv").frame.iloc[0]

    assert first["time"] == pd.Timestamp("2004-08-19", tz="UTC")
    assert (first["open"], first["high"], first["low"], first["close"]) == (
        100.0,
        104.06,
        95.96,
        100.34,
    )
    assert first["volume"] == 22351900.0


def test_hourly_fx_csv_keeps_the_hour(market_data_dir: Path) -> None:
    frame = load_bars_frame(market_data_dir / "EURUSD.csv").frame

    assert frame["time"].iloc[1] == pd.Timestamp("2017-04-19 10:00", tz="UTC")


def test_kraken_trade_export_is_aggregated_into_bars_of_the_requested_timeframe(
    market_data_dir: Path,
) -> None:
    path = market_data_dir / "BCHEUR.csv"
    with path.open() as handle:
        trades = [(int(t), float(p), float(v)) for t, p, v in csv.reader(handle)]
    hours: dict[int, list[tuple[int, float, float]]] = {}
    for trade in sorted(trades, key=lambda trade: trade[0]):
        hours.setdefault(trade[0] // 3600 * 3600, []).append(trade)

    loaded = load_bars_frame(path, timeframe=Timeframe.H1)

    assert loaded.aggregated_from_trades
    assert loaded.timeframe is Timeframe.H1
    assert len(loaded.frame) == len(hours)
    for row, (hour, in_hour) in zip(loaded.frame.itertuples(), sorted(hours.items()), strict=True):
        prices = [price for _, price, _ in in_hour]
        assert row.time == pd.Timestamp(hour, unit="s", tz="UTC")
        assert (row.open, row.high, row.low, row.close) == (
            prices[0],
            max(prices),
            min(prices),
            prices[-1],
        )
        assert row.volume == pytest.approx(sum(volume for *_, volume in in_hour), abs=1e-12)


def test_trades_feather_aggregates_to_exactly_the_recorded_5m_candles(
    market_data_dir: Path,
) -> None:
    from_trades = load_bars_frame(market_data_dir / "XRP_ETH-trades.feather")
    candles = load_bars_frame(market_data_dir / "XRP_ETH-5m.feather")

    assert from_trades.aggregated_from_trades
    pd.testing.assert_frame_equal(from_trades.frame, candles.frame)


def test_epoch_seconds_and_milliseconds_give_the_same_times(tmp_path: Path) -> None:
    rows = "{t},1.0,2.0,0.5,1.5,10\n{u},1.5,2.5,1.0,2.0,11\n"
    seconds = tmp_path / "S-1m.csv"
    seconds.write_text("timestamp,open,high,low,close,volume\n" + rows.format(t=60, u=120))
    millis = tmp_path / "M-1m.csv"
    millis.write_text(
        "timestamp,open,high,low,close,volume\n" + rows.format(t=1_700_000_040_000, u=1)
    )

    assert load_bars_frame(seconds).frame["time"].tolist() == [
        pd.Timestamp(60, unit="s", tz="UTC"),
        pd.Timestamp(120, unit="s", tz="UTC"),
    ]
    assert load_bars_frame(millis).frame["time"].iloc[0] == pd.Timestamp(
        "2023-11-14 22:14:00", tz="UTC"
    )


def test_column_names_are_case_insensitive_and_offsets_are_converted_to_utc(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ABC.csv"
    path.write_text(
        "DateTime,OPEN,High,low,Close,VOLUME\n"
        "2024-01-01T10:00:00+02:00,1,2,0.5,1.5,3\n"
        "2024-01-01T11:00:00+02:00,1.5,2,1,1.8,4\n"
    )

    loaded = load_bars_frame(path)

    assert loaded.symbol == "ABC"
    assert loaded.timeframe is Timeframe.H1
    assert loaded.frame["time"].iloc[0] == pd.Timestamp("2024-01-01 08:00", tz="UTC")
    assert loaded.frame["close"].tolist() == [1.5, 1.8]


def test_parquet_with_naive_times_is_read_as_utc(tmp_path: Path) -> None:
    path = tmp_path / "SOL_USD-15m.parquet"
    pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-03-01 00:00", "2024-03-01 00:15"]),
            "Open": [100.0, 101.0],
            "High": [102.0, 103.0],
            "Low": [99.0, 100.5],
            "Close": [101.0, 102.5],
            "Volume": [5.0, 6.0],
        }
    ).to_parquet(path)

    loaded = load_bars_frame(path)

    assert (loaded.symbol, loaded.timeframe) == ("SOL/USD", Timeframe.M15)
    assert loaded.frame["time"].iloc[1] == pd.Timestamp("2024-03-01 00:15", tz="UTC")


def test_explicit_symbol_and_timeframe_override_the_file_name(market_data_dir: Path) -> None:
    loaded = load_bars_frame(
        market_data_dir / "UNITTEST_BTC-5m.feather", symbol="ETH/BTC", timeframe=Timeframe.M5
    )

    assert loaded.symbol == "ETH/BTC"


@pytest.mark.parametrize(
    ("name", "symbol", "timeframe", "is_trades"),
    [
        ("ETH_BTC-5m.feather", "ETH/BTC", Timeframe.M5, False),
        ("XRP_ETH-trades.feather", "XRP/ETH", None, True),
        ("GOOG.csv", "GOOG", None, False),
        ("BTCUSD.csv", "BTC/USD", None, False),
        ("BTC_USD-1M.parquet", "BTC/USD", Timeframe.MO1, False),
        ("ODD-7m.csv", "ODD-7m", None, False),
    ],
)
def test_file_names_tell_symbol_and_timeframe(
    name: str, symbol: str, timeframe: Timeframe | None, is_trades: bool
) -> None:
    info = parse_file_name(Path(name))

    assert (info.symbol, info.timeframe, info.is_trades) == (symbol, timeframe, is_trades)


def test_missing_file_error_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ETH_BTC-5m.feather"

    with pytest.raises(DataError, match="not found") as error:
        load_bars_frame(missing)
    assert str(missing) in error.value.message
    assert error.value.code == "DATA_ERROR"


def test_unsupported_extension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "GOOG.xlsx"
    path.write_bytes(b"not really a spreadsheet")

    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'"):
        load_bars_frame(path)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "ABC.csv"
    path.write_text("date,open,high,close\n2024-01-01,1,2,1.5\n2024-01-02,1,2,1.5\n")

    with pytest.raises(DataError, match="missing columns for bars: low, volume"):
        load_bars_frame(path)


def test_file_without_a_time_column_says_which_names_it_looked_for(tmp_path: Path) -> None:
    path = tmp_path / "ABC.csv"
    path.write_text("when,open,high,low,close,volume\nx,1,2,0.5,1.5,3\n")

    with pytest.raises(DataError, match=r"missing columns: time .*found when, open"):
        load_bars_frame(path)


def test_unparseable_rows_are_reported_with_row_numbers_and_values(tmp_path: Path) -> None:
    path = tmp_path / "ABC-1d.csv"
    path.write_text(
        "date,open,high,low,close,volume\n"
        "2024-01-01,1,2,0.5,1.5,3\n"
        "2024-01-02,1,2,0.5,oops,3\n"
        "2024-01-03,1,2,0.5,1.5,3\n"
        "not a date,1,2,0.5,1.5,3\n"
    )

    with pytest.raises(DataError) as error:
        load_bars_frame(path)

    message = error.value.message
    assert "2 unparseable rows (first: 2, 4)" in message
    assert "row 2 close='oops'" in message
    assert "row 4 date='not a date'" in message


def test_empty_file_is_refused_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "ABC.csv"
    path.write_text("")

    with pytest.raises(DataError, match=r"ABC\.csv: the file is empty"):
        load_bars_frame(path)


def test_header_only_file_is_refused_as_having_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "ABC.csv"
    path.write_text("date,open,high,low,close,volume\n")

    with pytest.raises(DataError, match="no data rows"):
        load_bars_frame(path)


def test_corrupt_feather_is_refused_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "ABC-5m.feather"
    path.write_bytes(b"definitely not arrow")

    with pytest.raises(DataError, match=r"ABC-5m\.feather: cannot read as feather"):
        load_bars_frame(path)


def test_irregular_spacing_cannot_be_guessed_and_asks_for_the_timeframe(tmp_path: Path) -> None:
    path = tmp_path / "ABC.csv"
    path.write_text(
        "time,open,high,low,close,volume\n"
        "2024-01-01 00:00,1,2,0.5,1.5,3\n"
        "2024-01-01 00:07,1,2,0.5,1.5,3\n"
        "2024-01-01 00:14,1,2,0.5,1.5,3\n"
    )

    with pytest.raises(DataError, match="median spacing of 0:07:00; pass it"):
        load_bars_frame(path)
    assert load_bars_frame(path, timeframe=Timeframe.M5).timeframe is Timeframe.M5


def test_headerless_csv_with_an_unknown_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ABC.csv"
    path.write_text("1672531436,90.5\n1672531471,90.4\n")

    with pytest.raises(DataError, match="it has 2"):
        load_bars_frame(path)


def test_loaded_file_keeps_rows_in_file_order_for_validation_to_sort(tmp_path: Path) -> None:
    path = tmp_path / "ABC-1h.csv"
    path.write_text(
        "time,open,high,low,close,volume\n"
        "2024-01-01 01:00,1,2,0.5,1.5,3\n"
        "2024-01-01 00:00,1,2,0.5,1.2,3\n"
    )

    times = load_bars_frame(path).frame["time"].tolist()

    assert times == [datetime(2024, 1, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)]
