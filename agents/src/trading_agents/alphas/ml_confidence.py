"""ML-confidence alpha: the slot a calibrated model's probability fills (the ML issue)."""

from __future__ import annotations

import math
from collections.abc import Mapping

ML_PROBABILITY_KEY = "ml_probability"
"""Indicator name under which the orchestrator passes the model's probability of a rise."""


def ml_confidence(
    indicators: Mapping[str, float | None], *, key: str = ML_PROBABILITY_KEY
) -> float | None:
    """2 * p - 1 for the model probability p = indicators[key] that price rises; else None.

    Without a probability (absent, None or NaN: no model, or not warm) there is no view and the
    score is None, never a made-up value. A probability outside [0, 1] is a model bug and
    raises ValueError.
    """
    probability = indicators.get(key)
    if probability is None or math.isnan(probability):
        return None
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"{key} must be a probability in [0, 1], got {probability}")
    return 2.0 * probability - 1.0
