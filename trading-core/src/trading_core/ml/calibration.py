"""Probability calibration in numpy: Platt scaling and isotonic regression (pool adjacent
violators), fitted on held-out predictions and stored as plain numbers in the model card."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Method = Literal["platt", "isotonic"]
_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class Calibrator:
    """Maps a raw model probability to a calibrated one."""

    method: Method
    params: dict[str, Any]

    def apply(self, raw: npt.ArrayLike) -> FloatArray:
        p = np.asarray(raw, dtype=np.float64)
        if self.method == "platt":
            z = float(self.params["a"]) * _logit(p) + float(self.params["b"])
            calibrated: FloatArray = 1.0 / (1.0 + np.exp(-z))
            return calibrated
        x = np.asarray(self.params["x"], dtype=np.float64)
        y = np.asarray(self.params["y"], dtype=np.float64)
        interpolated: FloatArray = np.interp(p, x, y).astype(np.float64)
        return interpolated

    def apply_one(self, raw: float) -> float:
        """One probability, without numpy's per-call overhead (the live loop's path)."""
        if self.method == "platt":
            z = self.params["a"] * _logit_one(raw) + self.params["b"]
            return 1.0 / (1.0 + math.exp(-z))
        return float(np.interp(raw, self.params["x"], self.params["y"]))


def fit(method: Method, raw: npt.ArrayLike, outcome: npt.ArrayLike) -> Calibrator:
    """Fit ``method`` on predictions ``raw`` and 0/1 ``outcome``."""
    p, y = np.asarray(raw, dtype=np.float64), np.asarray(outcome, dtype=np.float64)
    if method == "platt":
        a, b = platt(p, y)
        return Calibrator("platt", {"a": a, "b": b})
    x, fitted = isotonic(p, y)
    return Calibrator("isotonic", {"x": x.tolist(), "y": fitted.tolist()})


def platt(raw: FloatArray, outcome: FloatArray, *, iterations: int = 100) -> tuple[float, float]:
    """(a, b) of P(y = 1) = sigmoid(a logit(raw) + b) by maximum likelihood (Newton's method).

    Unregularised: the same optimum as an unpenalised logistic regression on logit(raw).
    """
    features = np.column_stack([_logit(raw), np.ones_like(raw)])
    weights = np.array([1.0, 0.0])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-features @ weights))
        gradient = features.T @ (outcome - p)
        hessian = (features * (p * (1 - p))[:, None]).T @ features + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        weights = weights + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(weights[0]), float(weights[1])


def isotonic(raw: FloatArray, outcome: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The non-decreasing least-squares fit of ``outcome`` on ``raw`` (pool adjacent violators).

    Returns knots (x, y) for linear interpolation, clipped at the ends: ties in ``raw`` are
    averaged first, as scikit-learn's IsotonicRegression does.
    """
    order = np.argsort(raw, kind="mergesort")
    xs, ys = raw[order], outcome[order]
    unique, start, counts = np.unique(xs, return_index=True, return_counts=True)
    sums = np.add.reduceat(ys, start)
    means, weights = list(sums / counts), list(counts.astype(np.float64))
    sizes = [1] * len(unique)
    # Blocks of unique x: merge a block into its predecessor while it is lower.
    block_means: list[float] = []
    block_weights: list[float] = []
    block_sizes: list[int] = []
    for mean, weight, size in zip(means, weights, sizes, strict=True):
        block_means.append(mean)
        block_weights.append(weight)
        block_sizes.append(size)
        while len(block_means) > 1 and block_means[-2] >= block_means[-1]:
            w = block_weights[-2] + block_weights[-1]
            m = (block_means[-2] * block_weights[-2] + block_means[-1] * block_weights[-1]) / w
            n = block_sizes[-2] + block_sizes[-1]
            del block_means[-1], block_weights[-1], block_sizes[-1]
            block_means[-1], block_weights[-1], block_sizes[-1] = m, w, n
    fitted = np.repeat(np.array(block_means), block_sizes)
    return unique.astype(np.float64), fitted


def _logit(p: FloatArray) -> FloatArray:
    clipped = np.clip(p, _EPS, 1 - _EPS)
    return np.log(clipped / (1 - clipped))


def _logit_one(p: float) -> float:
    clipped = min(max(p, _EPS), 1 - _EPS)
    return math.log(clipped / (1 - clipped))
