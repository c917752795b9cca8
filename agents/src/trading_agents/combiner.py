"""The alpha combiner: score = sum(score_i * w_i) / sum(|w_i|) over the alphas with a view."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AlphaReading:
    """One alpha's part in a combination."""

    name: str
    score: float | None
    """The alpha's score in [-1, 1]; None when it had no view (left out of both sums)."""
    weight: float
    contribution: float
    """score * weight / sum(|w|) over the alphas with a view: its share of the final score
    (0 for an alpha without a view)."""


@dataclass(frozen=True, slots=True)
class Combination:
    """The combined score and what each alpha put into it, for a readable reasoning."""

    score: float | None
    readings: tuple[AlphaReading, ...]
    """One per weighted alpha, in the order of the weights."""

    @property
    def coverage(self) -> float:
        """The share of the total |weight| whose alphas had a view (0 when there is none)."""
        total = math.fsum(abs(reading.weight) for reading in self.readings)
        seen = math.fsum(abs(r.weight) for r in self.readings if r.score is not None)
        return seen / total if total > 0 else 0.0

    def strongest(self, count: int = 2) -> tuple[AlphaReading, ...]:
        """The alphas with a view and a non-zero contribution, largest |contribution| first."""
        active = [r for r in self.readings if r.score is not None and r.contribution != 0.0]
        return tuple(sorted(active, key=lambda r: -abs(r.contribution))[:count])

    def describe(self) -> str:
        """The alphas with a view, largest |contribution| first, then those without, e.g.
        ``momentum +0.80 (w 0.60), breakout +0.00 (w 0.40); no view: ml_confidence``."""
        if self.score is None:
            return "no view: " + ", ".join(r.name for r in self.readings)
        parts = [
            f"{r.name} {r.score:+.2f} (w {r.weight:.2f})"
            for r in sorted(self.readings, key=lambda r: -abs(r.contribution))
            if r.score is not None
        ]
        silent = [r.name for r in self.readings if r.score is None]
        text = ", ".join(parts)
        return text + (f"; no view: {', '.join(silent)}" if silent else "")


def combine(scores: Mapping[str, float | None], weights: Mapping[str, float]) -> float | None:
    """sum(score_i * w_i) / sum(|w_i|) over the alphas whose score is not None, in [-1, 1].

    None when no alpha has a view (or those that have one all weigh 0). See ``breakdown``.
    """
    return breakdown(scores, weights).score


def breakdown(scores: Mapping[str, float | None], weights: Mapping[str, float]) -> Combination:
    """The combined score with each alpha's reading.

    Every scored alpha must be weighted (ValueError otherwise: a typo must not drop an alpha);
    a weighted alpha missing from ``scores`` has no view. Scores must lie in [-1, 1] and weights
    be finite (ValueError). The result is clipped to [-1, 1] against rounding.
    """
    unknown = sorted(set(scores) - set(weights))
    if unknown:
        raise ValueError(f"scores for alphas without a weight: {', '.join(unknown)}")
    for name, weight in weights.items():
        if not math.isfinite(weight):
            raise ValueError(f"weight of {name} must be finite, got {weight}")
    for name, score in scores.items():
        if score is not None and not -1.0 <= score <= 1.0:
            raise ValueError(f"score of {name} must be in [-1, 1], got {score}")
    viewed = {name: score for name, score in scores.items() if score is not None}
    total = math.fsum(abs(weights[name]) for name in viewed)
    readings = tuple(
        AlphaReading(
            name=name,
            score=viewed.get(name),
            weight=weight,
            contribution=viewed[name] * weight / total if name in viewed and total > 0 else 0.0,
        )
        for name, weight in weights.items()
    )
    if total == 0:
        return Combination(score=None, readings=readings)
    combined = math.fsum(viewed[name] * weights[name] for name in viewed) / total
    return Combination(score=min(1.0, max(-1.0, combined)), readings=readings)
