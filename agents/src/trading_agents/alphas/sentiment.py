"""Sentiment alpha: a score from a sentiment model, passed in by the orchestrator."""

from __future__ import annotations

import math
from collections.abc import Mapping

SENTIMENT_KEY = "sentiment"
"""Indicator name under which the orchestrator passes the sentiment score."""


def sentiment(indicators: Mapping[str, float | None], *, key: str = SENTIMENT_KEY) -> float | None:
    """The sentiment score s = indicators[key] in [-1, 1] (bearish..bullish), as given.

    None when there is none (absent, None or NaN: the model is not there or not ready), so an
    agent waiting for it stays silent. A value outside [-1, 1] raises ValueError.
    """
    value = indicators.get(key)
    if value is None or math.isnan(value):
        return None
    if not -1.0 <= value <= 1.0:
        raise ValueError(f"{key} must be in [-1, 1], got {value}")
    return value
