"""Small numeric helpers shared by the alphas."""

from __future__ import annotations

import math

from trading_core.marketdata.fast_math import array_mean, array_median, wilder, wilder_last

__all__ = [
    "array_mean",
    "array_median",
    "clip",
    "log_ratio_score",
    "mean",
    "wilder",
    "wilder_last",
]


def clip(value: float, low: float = -1.0, high: float = 1.0) -> float:
    """``value`` limited to [low, high]."""
    return min(high, max(low, value))


def log_ratio_score(ratio: float, full: float) -> float:
    """log(ratio) / log(full) clipped to [-1, 1]: 1 at ``full`` times, -1 at 1/``full``.

    A ratio of zero or less (nothing where something was usual) scores -1.
    """
    if ratio <= 0:
        return -1.0
    return clip(math.log(ratio) / math.log(full))


def mean(values: list[float]) -> float | None:
    """Plain mean, None for an empty list (no term had a view)."""
    return math.fsum(values) / len(values) if values else None
