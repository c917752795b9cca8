"""Features: point in time (perturbing the future changes nothing up to t), same code live and
in training, and stored as partitioned Parquet read back as of a moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_core.marketdata.indicators import IncrementalIndicators
from trading_core.ml.feature_store import FeatureStore
from trading_core.ml.features import FEATURE_NAMES, FeatureBuilder, compute_features

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def random_bars(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    spread = np.abs(rng.normal(0, 0.005, n)) * close
    index = pd.DatetimeIndex([T0 + timedelta(minutes=5 * (i + 1)) for i in range(n)])
    return pd.DataFrame(
        {
            "high": close + spread,
            "low": close - spread,
            "close": close,
            "volume": rng.uniform(10, 100, n),
        },
        index=index,
    )


@settings(max_examples=25, deadline=None)
@given(
    cut=st.integers(min_value=0, max_value=298),
    factor=st.floats(min_value=0.2, max_value=5.0),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_no_feature_at_t_changes_when_bars_after_t_do(cut: int, factor: float, seed: int) -> None:
    bars = random_bars(300, seed)
    before = compute_features(bars)
    future = bars.copy()
    noise = np.random.default_rng(seed + 1).uniform(0.5, 1.5, len(bars) - cut - 1)
    for column in ("high", "low", "close"):
        future.iloc[cut + 1 :, future.columns.get_loc(column)] *= factor * noise
    future.iloc[cut + 1 :, future.columns.get_loc("volume")] *= 3.0
    after = compute_features(future)

    pd.testing.assert_frame_equal(before.iloc[: cut + 1], after.iloc[: cut + 1])
    # The perturbation reached the features after the cut (the test can fail).
    assert not before.iloc[cut + 1 :].equals(after.iloc[cut + 1 :])


def test_training_features_are_the_live_builders_bar_by_bar() -> None:
    bars = random_bars(260)
    frame = compute_features(bars)
    indicators, builder = IncrementalIndicators(), FeatureBuilder()
    for i, row in enumerate(bars.itertuples()):
        indicated = indicators.update(row.high, row.low, row.close)
        live = builder.update(row.close, row.volume, indicated)
        expected = [np.nan if live[name] is None else live[name] for name in FEATURE_NAMES]
        np.testing.assert_array_equal(frame.iloc[i].to_numpy(), np.array(expected))
    warm = frame.iloc[60:]
    assert not warm.isna().any().any(), "every feature is warm after 60 bars"


def test_features_are_written_by_symbol_and_date_and_read_point_in_time(tmp_path) -> None:
    bars = random_bars(600)  # five-minute bars over three days
    features = compute_features(bars)
    store = FeatureStore(tmp_path)

    assert store.write("ETH/BTC", features) == 3
    days = sorted(p.name for p in (tmp_path / "bars-v1" / "symbol=ETH%2FBTC").iterdir())
    assert days == ["date=2024-01-01", "date=2024-01-02", "date=2024-01-03"]

    as_of = features.index[400]
    read = store.read("ETH/BTC", as_of=as_of.to_pydatetime())
    assert read.index.max() == as_of
    pd.testing.assert_frame_equal(
        read, features.iloc[:401].rename_axis("available_at"), check_freq=False
    )
    since = features.index[100].to_pydatetime()
    assert store.read("ETH/BTC", as_of=as_of.to_pydatetime(), since=since).index.min() == since
    assert store.read("BTC/USD", as_of=as_of.to_pydatetime()).empty


def test_features_need_aware_available_at_times(tmp_path) -> None:
    features = compute_features(random_bars(30)).tz_localize(None)
    with pytest.raises(ValueError, match="aware UTC"):
        FeatureStore(tmp_path).write("ETH/BTC", features)
