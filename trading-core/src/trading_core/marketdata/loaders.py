"""Read OHLCV files (CSV, feather, Parquet) into one normalised pandas frame.

Every loader returns the columns ``time`` (UTC datetimes), ``open``, ``high``, ``low``, ``close``
and ``volume`` (floats), in file order: validation (``marketdata.validation``) sorts, removes
duplicates and converts to domain ``Bar``s. Trade files (Kraken's headerless export
``unix time, price, volume`` or a frame with ``price`` and ``amount`` columns) are aggregated
into bars first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from trading_core.domain.errors import DataError
from trading_core.domain.market import Timeframe

BAR_COLUMNS = ("time", "open", "high", "low", "close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close")
TIME_COLUMN_NAMES = ("time", "timestamp", "date", "datetime")
SUPPORTED_EXTENSIONS = (".csv", ".feather", ".parquet", ".pq")
DEFAULT_TRADES_TIMEFRAME = Timeframe.M5
"""Bar length for trade files when the caller does not choose one."""

_TRADE_VOLUME_NAMES = ("amount", "volume", "quantity", "qty")
# Epoch values at or above this are milliseconds: 1e11 seconds would be the year 5138.
_EPOCH_MS_THRESHOLD = 1e11
_MAX_REPORTED_ROWS = 5
_FILE_NAME = re.compile(r"^(?P<symbol>.+?)-(?P<suffix>\d+[mhdwM]|trades)$")
_CONCATENATED_PAIR = re.compile(r"^(?P<base>[A-Z]{3})(?P<quote>[A-Z]{3})$")
"""``BTCUSD`` / ``EURUSD``: six capitals are a currency pair written without a separator."""
_FLOOR_FREQUENCIES = {
    Timeframe.M1: "1min",
    Timeframe.M5: "5min",
    Timeframe.M15: "15min",
    Timeframe.M30: "30min",
    Timeframe.H1: "1h",
    Timeframe.H4: "4h",
    Timeframe.D1: "1D",
}


@dataclass(frozen=True)
class LoadedFile:
    """One file read into a normalised frame (columns ``BAR_COLUMNS``), not yet validated."""

    path: Path
    symbol: str
    timeframe: Timeframe
    frame: pd.DataFrame
    aggregated_from_trades: bool = False

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class FileNameInfo:
    """What a file name says: ``ETH_BTC-5m.feather`` is ETH/BTC in 5-minute bars."""

    symbol: str
    timeframe: Timeframe | None
    is_trades: bool


def parse_file_name(path: Path) -> FileNameInfo:
    """Symbol and timeframe from ``BASE_QUOTE-<timeframe|trades>.<ext>``; else the bare stem
    (``BTCUSD.csv`` is BTC/USD, ``GOOG.csv`` is GOOG)."""
    match = _FILE_NAME.match(path.stem)
    if match is None:
        pair = _CONCATENATED_PAIR.match(path.stem)
        symbol = f"{pair['base']}/{pair['quote']}" if pair else path.stem.replace("_", "/")
        return FileNameInfo(symbol=symbol, timeframe=None, is_trades=False)
    symbol = match["symbol"].replace("_", "/")
    suffix = match["suffix"]
    if suffix == "trades":
        return FileNameInfo(symbol=symbol, timeframe=None, is_trades=True)
    try:
        return FileNameInfo(symbol=symbol, timeframe=Timeframe(suffix), is_trades=False)
    except ValueError:
        # "ABC-7m" is not a timeframe we know: keep the whole stem as the symbol.
        return FileNameInfo(symbol=path.stem.replace("_", "/"), timeframe=None, is_trades=False)


def load_bars_frame(
    path: Path | str, *, symbol: str | None = None, timeframe: Timeframe | None = None
) -> LoadedFile:
    """Read ``path`` into OHLCV bars; raise ``DataError`` naming the file and the problem.

    ``symbol`` defaults to the one in the file name. ``timeframe`` defaults to the file name's,
    else to the median spacing of the timestamps; for trade files it is the bar length to
    aggregate into (``DEFAULT_TRADES_TIMEFRAME`` if not given). Naive timestamps are taken as
    UTC; numeric ones as epoch seconds, or milliseconds when they are too large for seconds.
    Rows in error messages are counted from 1, the header not included.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"market data file not found: {path}")
    extension = path.suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        supported = ", ".join(SUPPORTED_EXTENSIONS)
        raise DataError(f"{path.name}: unsupported file type {extension!r} (use {supported})")
    named = parse_file_name(path)
    raw = _read_csv(path) if extension == ".csv" else _read_columnar(path, extension)
    if raw.empty:
        raise DataError(f"{path.name}: the file has no data rows")
    raw.columns = pd.Index([_normalise_column_name(c, i) for i, c in enumerate(raw.columns)])
    time_column = _find_time_column(raw, path)
    if named.is_trades or _looks_like_trades(raw):
        trades = _parse_trades(raw, time_column, path)
        bar_timeframe = timeframe or DEFAULT_TRADES_TIMEFRAME
        frame = _with_nanosecond_times(aggregate_trades(trades, bar_timeframe))
        return LoadedFile(path, symbol or named.symbol, bar_timeframe, frame, True)
    frame = _with_nanosecond_times(_parse_bars(raw, time_column, path))
    bar_timeframe = timeframe or named.timeframe or infer_timeframe(frame["time"], path)
    return LoadedFile(path, symbol or named.symbol, bar_timeframe, frame)


def aggregate_trades(trades: pd.DataFrame, timeframe: Timeframe) -> pd.DataFrame:
    """OHLCV bars from trades (columns time, price, volume); bars with no trade are absent."""
    ordered = trades.sort_values("time", kind="stable")
    bucket = _floor_times(ordered["time"], timeframe)
    prices = ordered["price"].groupby(bucket, sort=True)
    bars = pd.DataFrame(
        {
            "open": prices.first(),
            "high": prices.max(),
            "low": prices.min(),
            "close": prices.last(),
            "volume": ordered["volume"].groupby(bucket, sort=True).sum(),
        }
    )
    bars.index.name = "time"
    return bars.reset_index()[list(BAR_COLUMNS)]


def infer_timeframe(times: pd.Series, path: Path) -> Timeframe:
    """The timeframe whose length equals the median spacing (28-31 days counts as a month)."""
    unique = times.drop_duplicates().sort_values()
    if len(unique) < 2:
        raise DataError(f"{path.name}: one timestamp is not enough to infer the timeframe")
    median = pd.Timedelta(unique.diff().dropna().median()).to_pytimedelta()
    for candidate in Timeframe:
        if candidate is Timeframe.MO1:
            if timedelta(days=28) <= median <= timedelta(days=31):
                return candidate
        elif candidate.duration == median:
            return candidate
    raise DataError(
        f"{path.name}: cannot infer the timeframe from a median spacing of {median}; pass it"
    )


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        first_row = pd.read_csv(path, header=None, nrows=1, dtype=str)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path.name}: the file is empty") from exc
    headerless = all(_is_number(value) for value in first_row.iloc[0])
    frame = pd.read_csv(path, header=None if headerless else 0, dtype=str)
    if not headerless:
        return frame
    if frame.shape[1] == 3:  # Kraken's trade export: unix time, price, volume
        frame.columns = pd.Index(["time", "price", "volume"])
    elif frame.shape[1] == len(BAR_COLUMNS):
        frame.columns = pd.Index(list(BAR_COLUMNS))
    else:
        raise DataError(
            f"{path.name}: a CSV without a header must have 3 columns (time, price, volume) "
            f"or 6 (time, open, high, low, close, volume); it has {frame.shape[1]}"
        )
    return frame


def _read_columnar(path: Path, extension: str) -> pd.DataFrame:
    try:
        if extension == ".feather":
            return pd.read_feather(path)
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        # pyarrow raises ArrowInvalid (a ValueError) or OSError for truncated or foreign files.
        raise DataError(f"{path.name}: cannot read as {extension[1:]}: {exc}") from exc


def _normalise_column_name(name: object, position: int) -> str:
    text = str(name).strip().lower()
    if position == 0 and (text == "" or text.startswith("unnamed")):
        return "time"  # pandas' name for the index column written by DataFrame.to_csv()
    return text


def _find_time_column(raw: pd.DataFrame, path: Path) -> str:
    for name in TIME_COLUMN_NAMES:
        if name in raw.columns:
            return name
    raise DataError(
        f"{path.name}: missing columns: time (expected one of {', '.join(TIME_COLUMN_NAMES)} "
        f"or an unnamed first column; found {', '.join(map(str, raw.columns))})"
    )


def _looks_like_trades(raw: pd.DataFrame) -> bool:
    has_volume = any(name in raw.columns for name in _TRADE_VOLUME_NAMES)
    return "price" in raw.columns and has_volume and "open" not in raw.columns


def _parse_trades(raw: pd.DataFrame, time_column: str, path: Path) -> pd.DataFrame:
    volume_column = next(name for name in _TRADE_VOLUME_NAMES if name in raw.columns)
    return _parse_columns(
        raw, path, time_column, {"price": "price", "volume": volume_column}, "trades"
    )


def _parse_bars(raw: pd.DataFrame, time_column: str, path: Path) -> pd.DataFrame:
    value_columns = {name: name for name in BAR_COLUMNS[1:]}
    return _parse_columns(raw, path, time_column, value_columns, "bars")


def _parse_columns(
    raw: pd.DataFrame, path: Path, time_column: str, value_columns: dict[str, str], kind: str
) -> pd.DataFrame:
    missing = [source for source in value_columns.values() if source not in raw.columns]
    if missing:
        raise DataError(f"{path.name}: missing columns for {kind}: {', '.join(missing)}")
    parsed = {"time": _parse_times(raw[time_column])}
    for target, source in value_columns.items():
        parsed[target] = pd.to_numeric(raw[source], errors="coerce").astype("float64")
    frame = pd.DataFrame(parsed)
    sources = {"time": time_column, **value_columns}
    bad_cells: list[str] = []
    bad_rows = np.zeros(len(frame), dtype=bool)
    for target, source in sources.items():
        column = frame[target]
        bad = column.isna().to_numpy(copy=True)
        if target != "time":
            bad |= ~np.isfinite(column.to_numpy(dtype="float64", na_value=np.nan))
        bad_rows |= bad
        for row in np.flatnonzero(bad)[:_MAX_REPORTED_ROWS]:
            bad_cells.append(f"row {row + 1} {source}={raw[source].iloc[row]!r}")
    if bad_rows.any():
        rows = np.flatnonzero(bad_rows)
        first = ", ".join(str(row + 1) for row in rows[:_MAX_REPORTED_ROWS])
        raise DataError(
            f"{path.name}: {len(rows)} unparseable rows (first: {first}): "
            + "; ".join(bad_cells[:_MAX_REPORTED_ROWS])
        )
    return frame


def _parse_times(column: pd.Series) -> pd.Series:
    parsed: pd.Series
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        parsed = column.dt.tz_convert("UTC")
        return parsed
    if pd.api.types.is_datetime64_dtype(column.dtype):
        parsed = column.dt.tz_localize("UTC")
        return parsed
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().sum() == column.notna().sum():
        unit: Literal["ms", "s"] = "ms" if numbers.abs().max() >= _EPOCH_MS_THRESHOLD else "s"
        parsed = pd.to_datetime(numbers, unit=unit, utc=True)
        return parsed
    parsed = pd.to_datetime(column, utc=True, errors="coerce", format="ISO8601")
    retry = parsed.isna() & column.notna()
    if retry.any():
        parsed[retry] = pd.to_datetime(column[retry], utc=True, errors="coerce", format="mixed")
    return parsed


def _floor_times(times: pd.Series, timeframe: Timeframe) -> pd.Series:
    floored: pd.Series
    frequency = _FLOOR_FREQUENCIES.get(timeframe)
    if frequency is not None:
        floored = times.dt.floor(frequency)
        return floored
    midnight: pd.Series = times.dt.normalize()
    if timeframe is Timeframe.W1:  # weeks start on Monday
        floored = midnight - pd.to_timedelta(times.dt.weekday, unit="D")
    else:
        floored = midnight - pd.to_timedelta(times.dt.day - 1, unit="D")
    return floored


def _with_nanosecond_times(frame: pd.DataFrame) -> pd.DataFrame:
    # Parsed text comes back in microseconds, feather in nanoseconds: one unit for every file.
    frame["time"] = frame["time"].dt.as_unit("ns")
    return frame


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True
