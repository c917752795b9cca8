"""Value at risk, expected shortfall and exposure: pure functions over returns and a Portfolio.

One convention for every method (each is tested against an independent reference):

- Input returns are simple per-period returns as fractions (0.01 is +1 %); one period is one day
  for the horizon. Losses are reported as POSITIVE fractions of value: a 95 % VaR of 0.031 means
  "a loss of 3.1 % or more happens with probability 5 %". A negative VaR means even the tail
  quantile is a gain.
- ``historical``: VaR = -Q(1 - c), Q being numpy's default empirical quantile (``method="linear"``,
  Hyndman-Fan type 7: linear interpolation between order statistics). CVaR is the mean of the
  returns AT OR BELOW that quantile (a sample sitting exactly on it is included), so CVaR >= VaR.
  Horizons above one day use the square-root-of-time rule on the one-day figures (iid returns).
- ``parametric``: normal with the sample mean mu and sample standard deviation sigma (ddof=1),
  mu_h = mu * h, sigma_h = sigma * sqrt(h): VaR = -(mu_h - z * sigma_h) and
  ES = sigma_h * pdf(z) / (1 - c) - mu_h, with z the standard normal quantile at c.
- ``monte_carlo``: ``simulations`` (>= 10,000) paths of h iid normal(mu, sigma) daily returns from
  ``numpy.random.default_rng(seed)``, summed per path; then the historical estimator on the
  simulated horizon returns (no further scaling).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from statistics import NormalDist
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt

from trading_core.domain.base import ZERO, Frozen
from trading_core.domain.errors import TradingError
from trading_core.domain.portfolio import Portfolio

VaRMethod = Literal["historical", "parametric", "monte_carlo"]
FloatSeries = Sequence[float] | Sequence[Decimal] | npt.NDArray[np.float64]
"""Numbers numpy can read as a 1-D float array (lists, tuples, arrays, pandas columns)."""

MIN_OBSERVATIONS: Final = 30
"""Fewer returns than this give a tail estimate that is noise, whatever the method."""
MIN_SIMULATIONS: Final = 10_000

_METHODS: Final = frozenset(get_args(VaRMethod))
_STANDARD_NORMAL = NormalDist()


class InvalidRiskInputError(TradingError, ValueError):
    """Risk maths refused its input (NaN, too few observations, out-of-range parameter)."""

    code = "INVALID_RISK_INPUT"


class VaRResult(Frozen):
    """VaR and CVaR (expected shortfall) as positive fractions of value over ``horizon_days``."""

    var: float
    cvar: float
    method: VaRMethod
    confidence: float
    horizon_days: int
    observations: int
    simulations: int | None = None


class PortfolioVaRResult(Frozen):
    """VaR and CVaR of current positions in money (base currency), losses positive."""

    var: Decimal
    cvar: Decimal
    method: VaRMethod
    confidence: float
    horizon_days: int
    observations: int
    gross_value: Decimal
    symbols: tuple[str, ...]


class ExposureReport(Frozen):
    """Exposure of a portfolio at its marks; ``*_pct`` are percent of equity (10 means 10 %)."""

    equity: Decimal
    long_exposure: Decimal
    short_exposure: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal
    gross_exposure_pct: Decimal
    net_exposure_pct: Decimal
    leverage: Decimal
    by_symbol: dict[str, Decimal]


def finite_decimal(value: Decimal | float, name: str) -> Decimal:
    """``value`` as a finite Decimal (floats through their shortest repr); NaN/inf/bool refused."""
    if isinstance(value, bool):
        raise InvalidRiskInputError(f"{name} must be a number, not a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidRiskInputError(f"{name} must be finite, got {value!r}")
        result = Decimal(float.__repr__(value)) if isinstance(value, float) else Decimal(value)
    else:
        raise InvalidRiskInputError(f"{name} must be a number, got {type(value).__name__}")
    if not result.is_finite():
        raise InvalidRiskInputError(f"{name} must be finite, got {value!r}")
    return result


def value_at_risk(
    returns: FloatSeries,
    *,
    confidence: float = 0.95,
    method: VaRMethod = "historical",
    horizon_days: int = 1,
    simulations: int = MIN_SIMULATIONS,
    seed: int = 0,
) -> VaRResult:
    """VaR and CVaR of ``returns`` at ``confidence`` over ``horizon_days`` (see module doc).

    Raises :class:`InvalidRiskInputError` for NaN, infinite or below -1 returns, fewer than
    ``MIN_OBSERVATIONS`` returns, a confidence outside (0.5, 1), an unknown method, a horizon
    below one day or fewer than ``MIN_SIMULATIONS`` Monte Carlo paths.
    """
    sample = _as_sample(returns, "returns")
    if sample.size and float(sample.min()) < -1.0:
        raise InvalidRiskInputError("returns below -1 (a loss over 100 %) are not simple returns")
    var, cvar = _estimate(sample, confidence, method, horizon_days, simulations, seed)
    return VaRResult(
        var=var,
        cvar=cvar,
        method=method,
        confidence=confidence,
        horizon_days=horizon_days,
        observations=len(sample),
        simulations=simulations if method == "monte_carlo" else None,
    )


def portfolio_var(
    position_values: Mapping[str, Decimal],
    returns_by_symbol: Mapping[str, FloatSeries],
    *,
    confidence: float = 0.95,
    method: VaRMethod = "historical",
    horizon_days: int = 1,
    simulations: int = MIN_SIMULATIONS,
    seed: int = 0,
) -> PortfolioVaRResult:
    """Money VaR/CVaR of signed position values (shorts negative) under aligned return series.

    Linear (delta) approximation: the P&L of period t is sum_i value_i * r_i,t and the
    estimators of :func:`value_at_risk` run on that P&L series, so the parametric figure equals
    the covariance form sqrt(v' S v). The series must share one length and period grid (the
    caller aligns them); a position without a return series is refused. A flat book has zero risk.
    """
    values = {s: finite_decimal(v, f"value of {s}") for s, v in position_values.items()}
    symbols = tuple(sorted(s for s, v in values.items() if v != 0))
    gross = sum((abs(v) for v in values.values()), start=ZERO)
    if not symbols:
        _check_parameters(confidence, method, horizon_days, simulations)
        return PortfolioVaRResult(
            var=ZERO,
            cvar=ZERO,
            method=method,
            confidence=confidence,
            horizon_days=horizon_days,
            observations=0,
            gross_value=gross,
            symbols=(),
        )
    missing = [s for s in symbols if s not in returns_by_symbol]
    if missing:
        raise InvalidRiskInputError(f"no return series for position(s): {', '.join(missing)}")
    series = [_as_sample(returns_by_symbol[s], f"returns of {s}") for s in symbols]
    lengths = {len(s) for s in series}
    if len(lengths) != 1:
        raise InvalidRiskInputError(
            f"return series must be aligned to one length, got lengths {sorted(lengths)}"
        )
    matrix = np.column_stack(series)
    weights = np.array([float(values[s]) for s in symbols], dtype=np.float64)
    pnl = matrix @ weights
    var, cvar = _estimate(pnl, confidence, method, horizon_days, simulations, seed)
    return PortfolioVaRResult(
        var=_to_decimal(var),
        cvar=_to_decimal(cvar),
        method=method,
        confidence=confidence,
        horizon_days=horizon_days,
        observations=len(pnl),
        gross_value=gross,
        symbols=symbols,
    )


def exposure_report(portfolio: Portfolio) -> ExposureReport:
    """Gross/net exposure and leverage (gross / equity) at the portfolio's marks.

    Positions never marked are valued at their average entry (``Portfolio.mark_of``). Raises
    :class:`InvalidRiskInputError` when equity is zero or negative: ratios to it mean nothing.
    """
    equity = portfolio.equity
    if equity <= 0:
        raise InvalidRiskInputError(f"equity must be positive for exposure ratios, got {equity}")
    by_symbol = {
        symbol: position.market_value(portfolio.mark_of(symbol))
        for symbol, position in sorted(portfolio.positions.items())
        if not position.is_flat
    }
    long_exposure = sum((v for v in by_symbol.values() if v > 0), start=ZERO)
    short_exposure = -sum((v for v in by_symbol.values() if v < 0), start=ZERO)
    gross = long_exposure + short_exposure
    net = long_exposure - short_exposure
    return ExposureReport(
        equity=equity,
        long_exposure=long_exposure,
        short_exposure=short_exposure,
        gross_exposure=gross,
        net_exposure=net,
        gross_exposure_pct=gross / equity * 100,
        net_exposure_pct=net / equity * 100,
        leverage=gross / equity,
        by_symbol=by_symbol,
    )


def _estimate(
    sample: npt.NDArray[np.float64],
    confidence: float,
    method: VaRMethod,
    horizon_days: int,
    simulations: int,
    seed: int,
) -> tuple[float, float]:
    _check_parameters(confidence, method, horizon_days, simulations)
    if len(sample) < MIN_OBSERVATIONS:
        raise InvalidRiskInputError(
            f"{method} VaR needs at least {MIN_OBSERVATIONS} observations, got {len(sample)}"
        )
    if method == "historical":
        var, cvar = _historical(sample, confidence)
        scale = math.sqrt(horizon_days)
        return var * scale, cvar * scale
    mu = float(np.mean(sample))
    sigma = float(np.std(sample, ddof=1))
    if method == "parametric":
        return _parametric(mu, sigma, confidence, horizon_days)
    rng = np.random.default_rng(seed)
    # Paths are accumulated one day at a time so memory stays O(simulations) for long horizons.
    horizon_returns = np.zeros(simulations, dtype=np.float64)
    for _ in range(horizon_days):
        horizon_returns += rng.normal(mu, sigma, size=simulations)
    return _historical(horizon_returns, confidence)


def _historical(sample: npt.NDArray[np.float64], confidence: float) -> tuple[float, float]:
    cutoff = float(np.quantile(sample, 1.0 - confidence))
    tail = sample[sample <= cutoff]
    # The tail mean cannot exceed the tail's own bound; min() removes a last-ulp rounding excess.
    return -cutoff, -min(float(np.mean(tail)), cutoff)


def _parametric(
    mu: float, sigma: float, confidence: float, horizon_days: int
) -> tuple[float, float]:
    z = _STANDARD_NORMAL.inv_cdf(confidence)
    mu_h = mu * horizon_days
    sigma_h = sigma * math.sqrt(horizon_days)
    var = -(mu_h - z * sigma_h)
    expected_shortfall = sigma_h * _STANDARD_NORMAL.pdf(z) / (1.0 - confidence) - mu_h
    return var, expected_shortfall


def _check_parameters(confidence: float, method: str, horizon_days: int, simulations: int) -> None:
    if method not in _METHODS:
        raise InvalidRiskInputError(
            f"unknown VaR method {method!r}; use one of {', '.join(sorted(_METHODS))}"
        )
    is_number = isinstance(confidence, int | float) and not isinstance(confidence, bool)
    if not is_number or not (0.5 < confidence < 1.0):
        # The negated comparison also catches NaN.
        raise InvalidRiskInputError(f"confidence must be in (0.5, 1), got {confidence!r}")
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise InvalidRiskInputError(
            f"horizon_days must be a whole number >= 1, got {horizon_days!r}"
        )
    if method == "monte_carlo" and (isinstance(simulations, bool) or simulations < MIN_SIMULATIONS):
        raise InvalidRiskInputError(
            f"Monte Carlo VaR needs at least {MIN_SIMULATIONS} simulations, got {simulations!r}"
        )


def _as_sample(values: FloatSeries, name: str) -> npt.NDArray[np.float64]:
    try:
        sample = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise InvalidRiskInputError(f"{name} must be numbers: {exc}") from exc
    if sample.ndim != 1:
        raise InvalidRiskInputError(f"{name} must be one-dimensional, got shape {sample.shape}")
    bad = np.flatnonzero(~np.isfinite(sample))
    if bad.size:
        raise InvalidRiskInputError(
            f"{name} contain {bad.size} NaN or infinite value(s), first at index {int(bad[0])}"
        )
    return sample


def _to_decimal(value: float) -> Decimal:
    return Decimal(float.__repr__(value))
