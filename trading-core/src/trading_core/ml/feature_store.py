"""The feature store: features as partitioned Parquet (symbol/date), catalogued in the store.

Layout under ``root``: ``{set}-v{version}/symbol={symbol}/date={YYYY-MM-DD}/part-0.parquet``,
one row per bar, keyed by ``available_at``: the bar's close time, the first moment its features
are known. A read is point in time: :meth:`FeatureStore.read` returns only rows available at or
before ``as_of``, so a model trained or evaluated at t never sees a feature of a later bar.

The catalog (name, version, source columns, features, created) is ``market_data.feature_catalog``
in the trading store (SQLite or PostgreSQL), written by :meth:`FeatureStore.register`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import quote as url_quote

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from trading_core.domain.features import FeatureSet
from trading_core.ml.features import FEATURE_NAMES, FEATURE_SET, FEATURE_VERSION, SOURCE_COLUMNS
from trading_core.ports.clock import Clock
from trading_core.ports.store import Store

AVAILABLE_AT = "available_at"


def current_feature_set(created_at: datetime) -> FeatureSet:
    """The catalog row of the features this code computes."""
    return FeatureSet(
        name=FEATURE_SET,
        version=FEATURE_VERSION,
        source_columns=list(SOURCE_COLUMNS),
        features=list(FEATURE_NAMES),
        created_at=created_at,
    )


class FeatureStore:
    """Partitioned Parquet files of one feature set under ``root``."""

    def __init__(self, root: Path, *, name: str = FEATURE_SET, version: int = FEATURE_VERSION):
        self._root = root / f"{name}-v{version}"
        self._name, self._version = name, version

    async def register(self, store: Store, clock: Clock) -> FeatureSet:
        """Record this feature set in the catalog (kept as first registered if already there)."""
        for known in await store.list_feature_sets():
            if (known.name, known.version) == (self._name, self._version):
                return known
        feature_set = current_feature_set(clock.now())
        await store.save_feature_set(feature_set)
        return feature_set

    def write(self, symbol: str, features: pd.DataFrame) -> int:
        """Write ``features`` (indexed by ``available_at``, UTC) of ``symbol``; returns files.

        Each date's partition is replaced whole: writing the same bars again is idempotent.
        """
        index = pd.DatetimeIndex(features.index)
        if index.tz is None:
            raise ValueError("feature rows must be indexed by an aware UTC available_at")
        frame = features.copy()
        frame.index = index.tz_convert("UTC").rename(AVAILABLE_AT)
        written = 0
        for day, rows in frame.groupby(frame.index.strftime("%Y-%m-%d")):
            folder = self._symbol_dir(symbol) / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pandas(rows.reset_index(), preserve_index=False)
            pq.write_table(table, folder / "part-0.parquet")
            written += 1
        return written

    def read(self, symbol: str, *, as_of: datetime, since: datetime | None = None) -> pd.DataFrame:
        """Rows of ``symbol`` available at or before ``as_of`` (and from ``since``), in order."""
        folder = self._symbol_dir(symbol)
        parts = []
        for path in sorted(folder.glob("date=*/part-0.parquet")):
            day = path.parent.name.removeprefix("date=")
            if day > as_of.date().isoformat():
                continue  # a later day's partition is never opened
            if since is not None and day < since.date().isoformat():
                continue
            parts.append(pq.read_table(path).to_pandas())
        if not parts:
            return pd.DataFrame(columns=list(FEATURE_NAMES), index=pd.DatetimeIndex([], tz="UTC"))
        frame = pd.concat(parts).set_index(AVAILABLE_AT).sort_index()
        keep = frame.index <= pd.Timestamp(as_of)
        if since is not None:
            keep &= frame.index >= pd.Timestamp(since)
        selected: pd.DataFrame = frame.loc[keep]
        return selected

    def _symbol_dir(self, symbol: str) -> Path:
        return self._root / f"symbol={url_quote(symbol, safe='')}"
