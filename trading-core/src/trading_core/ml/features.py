"""Model features from bars, by one incremental code path for the live loop and for training.

A feature row at bar t is computed from bars 0..t only, by :class:`FeatureBuilder` fed one
closed bar at a time on top of :class:`~trading_core.marketdata.indicators.IncrementalIndicators`
(the orchestrator's own indicator state). Training calls :func:`compute_features`, which runs the
very same builder over a history, so there is no vectorised twin that could drift from it.

Every feature is scale-free (returns, ratios, bounded oscillators): a model trained on one pair
reads another's bars without a price level leaking in. None while a feature is not warm; the
frame from :func:`compute_features` holds NaN there (LightGBM treats NaN as missing).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

import numpy as np
import pandas as pd

from trading_core.marketdata.indicators import IncrementalIndicators

FEATURE_SET = "bars"
FEATURE_VERSION = 1
"""Bump when a feature's definition changes: stored features and models name the version."""
SOURCE_COLUMNS = ("high", "low", "close", "volume")
FEATURE_NAMES = (
    "return_1",
    "return_3",
    "return_12",
    "volatility_12",
    "volume_ratio_20",
    "rsi_14",
    "macd_hist",
    "atr_14",
    "bollinger_position",
    "sma_20_gap",
    "sma_50_gap",
    "adx_14",
)
RETURN_LAGS = (1, 3, 12)
VOLATILITY_BARS = 12
VOLUME_BARS = 20


class FeatureBuilder:
    """Features of one symbol, one closed bar at a time (O(1) per bar)."""

    def __init__(self) -> None:
        self._closes: deque[float] = deque(maxlen=max(RETURN_LAGS) + 1)
        self._log_returns: deque[float] = deque(maxlen=VOLATILITY_BARS)
        self._volumes: deque[float] = deque(maxlen=VOLUME_BARS)

    def update(
        self, close: float, volume: float, indicators: Mapping[str, float | None]
    ) -> dict[str, float | None]:
        """Feed bar t (its close, volume and the indicators after it); return its features."""
        if self._closes:
            self._log_returns.append(math.log(close / self._closes[-1]))
        self._closes.append(close)
        self._volumes.append(volume)
        features: dict[str, float | None] = {
            f"return_{lag}": self._log_return(lag) for lag in RETURN_LAGS
        }
        features["volatility_12"] = (
            float(np.std(self._log_returns)) if len(self._log_returns) == VOLATILITY_BARS else None
        )
        mean_volume = math.fsum(self._volumes) / len(self._volumes)
        features["volume_ratio_20"] = (
            volume / mean_volume - 1.0
            if len(self._volumes) == VOLUME_BARS and mean_volume > 0
            else None
        )
        rsi, adx = indicators.get("rsi_14"), indicators.get("adx_14")
        features["rsi_14"] = None if rsi is None else rsi / 100.0
        features["macd_hist"] = _relative(indicators.get("macd_hist"), close)
        features["atr_14"] = _relative(indicators.get("atr_14"), close)
        upper, lower = indicators.get("bb_upper"), indicators.get("bb_lower")
        features["bollinger_position"] = (
            (close - lower) / (upper - lower)
            if upper is not None and lower is not None and upper > lower
            else None
        )
        features["sma_20_gap"] = _gap(close, indicators.get("sma_20"))
        features["sma_50_gap"] = _gap(close, indicators.get("sma_50"))
        features["adx_14"] = None if adx is None else adx / 100.0
        return features

    def _log_return(self, lag: int) -> float | None:
        if len(self._closes) <= lag:
            return None
        return math.log(self._closes[-1] / self._closes[-1 - lag])


def _relative(value: float | None, close: float) -> float | None:
    return None if value is None else value / close


def _gap(close: float, average: float | None) -> float | None:
    return None if average is None or average == 0 else close / average - 1.0


def compute_features(bars: pd.DataFrame) -> pd.DataFrame:
    """Feature rows of a history (columns ``SOURCE_COLUMNS``), by the incremental code.

    The result has ``bars``' index and one column per ``FEATURE_NAMES``, NaN until warm.
    """
    missing = [column for column in SOURCE_COLUMNS if column not in bars.columns]
    if missing:
        raise ValueError(f"bars lack the columns {missing}")
    indicators, builder = IncrementalIndicators(), FeatureBuilder()
    columns = [bars[column].to_numpy(dtype=np.float64) for column in SOURCE_COLUMNS]
    rows = np.full((len(bars), len(FEATURE_NAMES)), np.nan)
    for i, (high, low, close, volume) in enumerate(zip(*columns, strict=True)):
        values = builder.update(close, volume, indicators.update(high, low, close))
        rows[i] = [np.nan if values[name] is None else values[name] for name in FEATURE_NAMES]
    return pd.DataFrame(rows, index=bars.index, columns=list(FEATURE_NAMES))


def feature_vector(features: Mapping[str, float | None]) -> np.ndarray:
    """One row in model column order (NaN where a feature is not warm), shape (1, n)."""
    row = [features[name] for name in FEATURE_NAMES]
    return np.array([[np.nan if value is None else value for value in row]], dtype=np.float64)
