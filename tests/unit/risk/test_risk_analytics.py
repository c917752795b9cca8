"""VaR / CVaR against closed forms (scipy) and numpy's quantile; exposure maths on a Portfolio."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from trading_core.domain.errors import TradingError
from trading_core.domain.fill import Fill
from trading_core.domain.order import Side
from trading_core.domain.portfolio import Portfolio
from trading_core.risk.analytics import (
    InvalidRiskInputError,
    exposure_report,
    portfolio_var,
    value_at_risk,
)

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
MU, SIGMA = 0.0005, 0.02


@pytest.fixture(scope="module")
def normal_returns() -> np.ndarray:
    """2,000 daily returns drawn from normal(MU, SIGMA) with a fixed seed."""
    return np.random.default_rng(20240301).normal(MU, SIGMA, size=2_000)


def _closed_form(returns: np.ndarray, confidence: float, horizon: int) -> tuple[float, float]:
    mu_h = returns.mean() * horizon
    sigma_h = returns.std(ddof=1) * math.sqrt(horizon)
    z = norm.ppf(confidence)
    return -(mu_h - z * sigma_h), sigma_h * norm.pdf(z) / (1 - confidence) - mu_h


@pytest.mark.parametrize("confidence", [0.95, 0.99])
@pytest.mark.parametrize("horizon", [1, 10])
def test_parametric_var_and_es_match_the_normal_closed_form(
    normal_returns: np.ndarray, confidence: float, horizon: int
) -> None:
    result = value_at_risk(
        normal_returns, confidence=confidence, method="parametric", horizon_days=horizon
    )
    expected_var, expected_es = _closed_form(normal_returns, confidence, horizon)
    assert result.var == pytest.approx(expected_var, rel=1e-9)
    assert result.cvar == pytest.approx(expected_es, rel=1e-9)
    assert (result.method, result.confidence, result.horizon_days) == (
        "parametric",
        confidence,
        horizon,
    )
    assert result.observations == 2_000


def test_historical_var_is_minus_the_linear_quantile_and_cvar_the_tail_mean_by_hand() -> None:
    returns = [k / 1000 for k in range(-50, 50)]  # -0.050 ... 0.049, 100 values
    np.random.default_rng(1).shuffle(returns)
    result = value_at_risk(returns, confidence=0.95)
    # position (100 - 1) * 0.05 = 4.95: between -0.046 and -0.045 -> -0.04505
    assert result.var == pytest.approx(0.04505, abs=1e-12)
    # tail at or below -0.04505: -0.050, -0.049, -0.048, -0.047, -0.046 -> mean -0.048
    assert result.cvar == pytest.approx(0.048, abs=1e-12)


@pytest.mark.parametrize("confidence", [0.95, 0.99, 0.975])
def test_historical_var_matches_numpy_percentile_with_the_same_convention(
    normal_returns: np.ndarray, confidence: float
) -> None:
    result = value_at_risk(normal_returns, confidence=confidence, method="historical")
    cutoff = np.percentile(normal_returns, 100 * (1 - confidence), method="linear")
    ordered = np.sort(normal_returns)
    expected_cvar = -ordered[ordered <= cutoff].mean()
    assert result.var == pytest.approx(-cutoff, rel=1e-12)
    assert result.cvar == pytest.approx(expected_cvar, rel=1e-12)


def test_historical_horizon_uses_the_square_root_of_time(normal_returns: np.ndarray) -> None:
    one_day = value_at_risk(normal_returns, confidence=0.99)
    ten_days = value_at_risk(normal_returns, confidence=0.99, horizon_days=10)
    assert ten_days.var == pytest.approx(one_day.var * math.sqrt(10), rel=1e-12)
    assert ten_days.cvar == pytest.approx(one_day.cvar * math.sqrt(10), rel=1e-12)


@pytest.mark.parametrize("horizon", [1, 5])
@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_monte_carlo_is_close_to_parametric_on_a_normal_sample(
    normal_returns: np.ndarray, confidence: float, horizon: int
) -> None:
    simulated = value_at_risk(
        normal_returns, confidence=confidence, method="monte_carlo", horizon_days=horizon
    )
    expected_var, expected_es = _closed_form(normal_returns, confidence, horizon)
    assert simulated.var == pytest.approx(expected_var, rel=0.05)
    assert simulated.cvar == pytest.approx(expected_es, rel=0.05)
    assert simulated.simulations == 10_000


def test_monte_carlo_is_reproducible_with_a_seed_and_changes_with_another(
    normal_returns: np.ndarray,
) -> None:
    first = value_at_risk(normal_returns, method="monte_carlo", seed=7)
    again = value_at_risk(normal_returns, method="monte_carlo", seed=7)
    other = value_at_risk(normal_returns, method="monte_carlo", seed=8)
    assert first == again
    assert first.var != other.var


@pytest.mark.parametrize("method", ["historical", "parametric", "monte_carlo"])
def test_99_percent_var_and_cvar_exceed_the_95_percent_ones(
    normal_returns: np.ndarray, method: str
) -> None:
    at_95 = value_at_risk(normal_returns, confidence=0.95, method=method)  # type: ignore[arg-type]
    at_99 = value_at_risk(normal_returns, confidence=0.99, method=method)  # type: ignore[arg-type]
    assert at_99.var > at_95.var > 0
    assert at_99.cvar > at_95.cvar > 0


@settings(max_examples=200, deadline=None)
@given(
    returns=st.lists(
        st.floats(min_value=-1.0, max_value=1.0, allow_nan=False), min_size=30, max_size=300
    ),
    confidence=st.floats(min_value=0.501, max_value=0.999),
    method=st.sampled_from(["historical", "parametric"]),
)
def test_cvar_is_never_below_var(returns: list[float], confidence: float, method: str) -> None:
    result = value_at_risk(returns, confidence=confidence, method=method)  # type: ignore[arg-type]
    assert result.cvar >= result.var


@pytest.mark.parametrize(
    ("returns", "kwargs", "message"),
    [
        ([0.01] * 29 + [math.nan], {}, "NaN or infinite"),
        ([0.01] * 29 + [math.inf], {}, "NaN or infinite"),
        ([0.01] * 29, {}, "at least 30 observations"),
        ([0.01] * 29, {"method": "parametric"}, "at least 30 observations"),
        ([0.01] * 40, {"confidence": 0.5}, "confidence must be in (0.5, 1)"),
        ([0.01] * 40, {"confidence": 1.0}, "confidence must be in (0.5, 1)"),
        ([0.01] * 40, {"confidence": math.nan}, "confidence must be in (0.5, 1)"),
        ([0.01] * 40, {"method": "gaussian"}, "unknown VaR method"),
        ([0.01] * 40, {"horizon_days": 0}, "horizon_days"),
        ([0.01] * 40, {"method": "monte_carlo", "simulations": 9_999}, "10000 simulations"),
        ([0.01] * 39 + [-1.5], {}, "below -1"),
        ([[0.01, 0.02]] * 40, {}, "one-dimensional"),
        (["a"] * 40, {}, "must be numbers"),
    ],
)
def test_unusable_input_is_refused_with_a_clear_message(
    returns: object, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidRiskInputError, match=re.escape(message)):
        value_at_risk(returns, **kwargs)  # type: ignore[arg-type]


def test_refusal_is_a_trading_error_and_a_value_error_with_a_stable_code() -> None:
    with pytest.raises(ValueError, match="at least 30") as caught:
        value_at_risk([0.01] * 5)
    assert isinstance(caught.value, TradingError)
    assert caught.value.code == "INVALID_RISK_INPUT"


def test_decimal_returns_are_accepted(normal_returns: np.ndarray) -> None:
    as_decimals = [Decimal(repr(float(r))) for r in normal_returns]
    assert value_at_risk(as_decimals) == value_at_risk(normal_returns)


@pytest.fixture(scope="module")
def two_asset_returns() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(99)
    covariance = [[0.0004, 0.00015], [0.00015, 0.0009]]
    draws = rng.multivariate_normal([0.0003, 0.0008], covariance, size=1_500)
    return {"AAA": draws[:, 0], "BBB": draws[:, 1]}


def test_portfolio_parametric_var_equals_the_covariance_closed_form(
    two_asset_returns: dict[str, np.ndarray],
) -> None:
    values = {"AAA": Decimal("60000"), "BBB": Decimal("-25000")}
    result = portfolio_var(values, two_asset_returns, confidence=0.99, method="parametric")
    v = np.array([60_000.0, -25_000.0])
    matrix = np.column_stack([two_asset_returns["AAA"], two_asset_returns["BBB"]])
    mu_p = float(v @ matrix.mean(axis=0))
    sigma_p = math.sqrt(float(v @ np.cov(matrix, rowvar=False, ddof=1) @ v))
    z = norm.ppf(0.99)
    assert float(result.var) == pytest.approx(z * sigma_p - mu_p, rel=1e-9)
    assert float(result.cvar) == pytest.approx(sigma_p * norm.pdf(z) / 0.01 - mu_p, rel=1e-9)
    assert isinstance(result.var, Decimal)
    assert result.gross_value == Decimal("85000")
    assert result.symbols == ("AAA", "BBB")


def test_portfolio_historical_var_of_one_position_scales_its_return_var(
    two_asset_returns: dict[str, np.ndarray],
) -> None:
    single = portfolio_var({"AAA": Decimal("10000")}, two_asset_returns)
    fraction = value_at_risk(two_asset_returns["AAA"])
    assert float(single.var) == pytest.approx(10_000 * fraction.var, rel=1e-9)
    assert float(single.cvar) == pytest.approx(10_000 * fraction.cvar, rel=1e-9)


def test_a_short_position_loses_in_the_upper_tail(two_asset_returns: dict[str, np.ndarray]) -> None:
    short = portfolio_var({"BBB": Decimal("-10000")}, two_asset_returns, confidence=0.95)
    upper = np.quantile(two_asset_returns["BBB"], 0.95)
    assert float(short.var) == pytest.approx(10_000 * upper, rel=1e-9)


def test_a_flat_book_has_zero_var() -> None:
    result = portfolio_var({"AAA": Decimal(0)}, {})
    assert (result.var, result.cvar, result.symbols) == (Decimal(0), Decimal(0), ())


def test_portfolio_var_refuses_missing_or_misaligned_series(
    two_asset_returns: dict[str, np.ndarray],
) -> None:
    with pytest.raises(InvalidRiskInputError, match="no return series for position"):
        portfolio_var({"CCC": Decimal("1000")}, two_asset_returns)
    misaligned = {"AAA": two_asset_returns["AAA"], "BBB": two_asset_returns["BBB"][:-1]}
    with pytest.raises(InvalidRiskInputError, match="aligned"):
        portfolio_var({"AAA": Decimal("1"), "BBB": Decimal("1")}, misaligned)


def _fill(symbol: str, side: Side, quantity: str, price: str, n: int) -> Fill:
    return Fill(
        fill_id=f"f-{n}",
        order_id=f"o-{n}",
        client_order_id=f"c-{n}",
        symbol=symbol,
        side=side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        timestamp=T0,
    )


def test_exposure_report_of_a_long_and_a_short_by_hand() -> None:
    portfolio = (
        Portfolio.start(Decimal("100000"))
        .apply_fill(_fill("AAA", Side.BUY, "100", "50", 1))
        .apply_fill(_fill("BBB", Side.SELL, "20", "200", 2))
        .mark("AAA", Decimal("55"), T0)
        .mark("BBB", Decimal("210"), T0)
    )
    report = exposure_report(portfolio)
    # cash 100000 - 5000 + 4000 = 99000; AAA +5500, BBB -4200 -> equity 100300
    assert report.equity == Decimal("100300")
    assert report.by_symbol == {"AAA": Decimal("5500"), "BBB": Decimal("-4200")}
    assert (report.long_exposure, report.short_exposure) == (Decimal("5500"), Decimal("4200"))
    assert report.gross_exposure == Decimal("9700") == portfolio.gross_exposure
    assert report.net_exposure == Decimal("1300") == portfolio.net_exposure
    assert report.leverage == Decimal("9700") / Decimal("100300")
    assert report.gross_exposure_pct == Decimal("9700") / Decimal("100300") * 100
    assert report.net_exposure_pct == Decimal("1300") / Decimal("100300") * 100


def test_exposure_report_of_an_empty_book_is_zero() -> None:
    report = exposure_report(Portfolio.start(Decimal("5000")))
    assert (report.gross_exposure, report.net_exposure, report.leverage) == (0, 0, 0)
    assert report.by_symbol == {}


@pytest.mark.parametrize("cash", ["0", "-1"])
def test_exposure_report_refuses_non_positive_equity(cash: str) -> None:
    portfolio = Portfolio(cash=Decimal(cash), high_water_mark=Decimal(1), start_of_day_equity=1)
    with pytest.raises(InvalidRiskInputError, match="equity must be positive"):
        exposure_report(portfolio)
