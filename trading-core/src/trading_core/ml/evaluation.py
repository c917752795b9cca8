"""Scores of probabilistic forecasts of a 0/1 outcome: AUC, log loss, Brier, calibration error."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ECE_BINS = 10
_EPS = 1e-15


def auc(outcome: npt.ArrayLike, probability: npt.ArrayLike) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half); NaN with one class only."""
    y, p = np.asarray(outcome, dtype=bool), np.asarray(probability, dtype=np.float64)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    _, inverse, counts = np.unique(p, return_inverse=True, return_counts=True)
    # Average rank of each distinct value (1-based), so ties share their ranks.
    ends = np.cumsum(counts)
    average_rank = (ends - (counts - 1) / 2.0)[inverse]
    rank_sum = float(average_rank[y].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def log_loss(outcome: npt.ArrayLike, probability: npt.ArrayLike) -> float:
    """Mean negative log-likelihood (probabilities clipped away from 0 and 1)."""
    y = np.asarray(outcome, dtype=np.float64)
    p = np.clip(np.asarray(probability, dtype=np.float64), _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def brier(outcome: npt.ArrayLike, probability: npt.ArrayLike) -> float:
    """Mean squared error of the probability."""
    y, p = np.asarray(outcome, dtype=np.float64), np.asarray(probability, dtype=np.float64)
    return float(np.mean((p - y) ** 2))


def expected_calibration_error(
    outcome: npt.ArrayLike, probability: npt.ArrayLike, *, bins: int = ECE_BINS
) -> float:
    """ECE: sum over equal-width probability bins of (share of rows) x |mean p - hit rate|.

    Bins are [0, 0.1), [0.1, 0.2), ... [0.9, 1.0]: 1.0 falls in the last.
    """
    y, p = np.asarray(outcome, dtype=np.float64), np.asarray(probability, dtype=np.float64)
    if len(p) == 0:
        return float("nan")
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.mean() * abs(p[members].mean() - y[members].mean())
    return float(total)


def scores(outcome: npt.ArrayLike, probability: npt.ArrayLike) -> dict[str, float]:
    """Every score above, by name (the model card's per-fold metrics)."""
    return {
        "auc": auc(outcome, probability),
        "log_loss": log_loss(outcome, probability),
        "brier": brier(outcome, probability),
        "ece": expected_calibration_error(outcome, probability),
    }
