"""Performance statistics against a pandas reference of empyrical's formulas, and hand cases.

The reference below is written from the published definitions (empyrical ``stats.py``, pyfolio's
round-trip stats) with pandas ``pct_change``/``cumprod``/``cummax``: a different code path from
the module's Decimal loop and numpy reductions.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_core.domain.errors import TradingError
from trading_core.domain.fill import Fill
from trading_core.domain.order import Side
from trading_core.domain.portfolio import Portfolio
from trading_core.portfolio.performance import (
    InvalidPerformanceInputError,
    PerformanceReport,
    RoundTrip,
    flat_to_flat,
    performance,
    periods_per_year,
    round_trips,
)

BUY, SELL = Side.BUY, Side.SELL
T0 = datetime(2024, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
DAILY = 365.0


def _series(values: list[Decimal], step: timedelta = DAY) -> list[tuple[datetime, Decimal]]:
    return [(T0 + step * i, value) for i, value in enumerate(values)]


def _compounded(start: Decimal, returns: list[str]) -> list[Decimal]:
    values = [start]
    for r in returns:
        values.append(values[-1] * (1 + Decimal(r)))
    return values


def _reference(
    values: list[Decimal], pnls: list[Decimal], ppy: float, rf: float
) -> dict[str, float]:
    """empyrical's definitions with pandas, NaN/inf where empyrical gives them (none are None)."""
    equity = pd.Series([float(v) for v in values])
    r = equity.pct_change().iloc[1:]
    with np.errstate(all="ignore"):
        total = np.float64(np.prod((1 + r).to_numpy()) - 1)
        annual = (1 + total) ** np.float64(ppy / len(r)) - 1
        excess = r - rf
        sharpe = np.float64(excess.mean()) / np.float64(excess.std(ddof=1)) * math.sqrt(ppy)
        downside = np.sqrt(np.float64((excess.clip(upper=0) ** 2).mean()))
        sortino = np.float64(excess.mean()) / downside * math.sqrt(ppy)
        wealth = pd.concat([pd.Series([100.0]), 100 * (1 + r).cumprod()], ignore_index=True)
        max_dd = np.float64((wealth / wealth.cummax() - 1).min())
        calmar = annual / abs(max_dd) if max_dd < 0 else np.float64("nan")
        trades = pd.Series([float(p) for p in pnls], dtype=float)
        win_rate = np.float64((trades > 0).sum()) / np.float64(len(trades))
        profit = np.float64(trades[trades > 0].sum()) / np.float64(trades[trades < 0].abs().sum())
    return {
        "total_return": float(total),
        "annual_return": float(annual),
        "sharpe": float(sharpe),
        "sortino": float(sortino),
        "max_drawdown": float(max_dd),
        "calmar": float(calmar),
        "win_rate": float(win_rate),
        "profit_factor": float(profit),
    }


def _assert_matches(report: PerformanceReport, expected: dict[str, float]) -> None:
    for name, value in expected.items():
        assert getattr(report, name) == pytest.approx(value, rel=1e-9, abs=1e-12), name


@pytest.fixture(scope="module")
def random_walk() -> list[Decimal]:
    """500 daily equity values of a noisy walk with a real drawdown, built in Decimal."""
    returns = np.random.default_rng(20240101).normal(0.0008, 0.02, size=499)
    values = [Decimal(10_000)]
    for r in returns:
        values.append(
            (values[-1] * (1 + Decimal(float.__repr__(float(r))))).quantize(Decimal("0.01"))
        )
    return values


@pytest.mark.parametrize("risk_free", [0.0, 0.0001])
def test_every_statistic_matches_the_pandas_reference_on_a_random_walk(
    random_walk: list[Decimal], risk_free: float
) -> None:
    pnls = [Decimal(p) for p in ("12.5", "-3", "40", "-7.25", "0", "1")]
    report = performance(_series(random_walk), pnls, periods_per_year=DAILY, risk_free=risk_free)
    _assert_matches(report, _reference(random_walk, pnls, DAILY, risk_free))
    assert report.max_drawdown is not None
    assert report.max_drawdown < -0.05  # a real drawdown, so Calmar is exercised
    assert report.trade_count == 6
    assert report.periods == 499
    assert report.periods_per_year == DAILY
    assert (report.start, report.end) == (T0, T0 + 499 * DAY)


def test_constant_growth_has_closed_form_returns_and_no_risk_ratios() -> None:
    values = _compounded(Decimal(1000), ["0.01"] * 10)
    report = performance(_series(values), [], periods_per_year=252)

    assert report.total_return == pytest.approx(1.01**10 - 1, rel=1e-12)
    # ten periods of 1 % compound to 1.01 ** 252 over a 252-period year
    assert report.annual_return == pytest.approx(1.01**252 - 1, rel=1e-12)
    assert report.max_drawdown == 0.0
    assert report.sharpe is None  # zero volatility: undefined, not inf
    assert report.sortino is None  # no period below the required return
    assert report.calmar is None  # no drawdown to divide by
    assert report.win_rate is None
    assert report.profit_factor is None
    assert report.trade_count == 0


def test_sharpe_and_sortino_of_a_two_state_return_series_by_hand() -> None:
    values = _compounded(Decimal(100), ["0.02", "-0.01", "0.02", "-0.01"])
    report = performance(_series(values), [], periods_per_year=252)

    # mean 0.005; deviations +-0.015 -> sample variance 4 x 0.000225 / 3 = 0.0003
    assert report.sharpe == pytest.approx(0.005 / math.sqrt(0.0003) * math.sqrt(252), rel=1e-9)
    # downside deviation over ALL four periods: sqrt((0.0001 + 0.0001) / 4)
    assert report.sortino == pytest.approx(0.005 / math.sqrt(0.00005) * math.sqrt(252), rel=1e-9)
    # peak 102, trough 102 x 0.99: one 1 % drawdown, repeated
    assert report.max_drawdown == pytest.approx(-0.01, rel=1e-12)


def test_a_single_known_drawdown_sets_max_drawdown_and_calmar() -> None:
    values = [Decimal(v) for v in ("100", "120", "90", "110", "115")]
    report = performance(_series(values), [], periods_per_year=4)

    assert report.max_drawdown == pytest.approx(90 / 120 - 1, rel=1e-12)  # -0.25, negative
    assert report.total_return == pytest.approx(0.15, rel=1e-12)
    # four periods in a four-period year: the annual return is the total return
    assert report.annual_return == pytest.approx(0.15, rel=1e-12)
    assert report.calmar == pytest.approx(0.15 / 0.25, rel=1e-12)


def test_a_drawdown_from_the_first_point_counts_the_start_as_the_peak() -> None:
    values = [Decimal(v) for v in ("100", "80", "90")]
    report = performance(_series(values), [], periods_per_year=DAILY)
    assert report.max_drawdown == pytest.approx(-0.2, rel=1e-12)
    assert report.calmar is not None
    assert report.calmar < 0  # losing and drawn down


def test_win_rate_and_profit_factor_from_round_trip_pnl_by_hand() -> None:
    pnls = [Decimal(p) for p in ("10", "-5", "20", "0", "-15")]
    report = performance(_series([Decimal(100), Decimal(101)]), pnls, periods_per_year=DAILY)
    assert report.win_rate == pytest.approx(2 / 5)  # break-even counts, does not win
    assert report.profit_factor == pytest.approx(30 / 20)
    assert report.trade_count == 5


@pytest.mark.parametrize(
    ("pnls", "win_rate", "profit_factor"),
    [
        (["5", "1"], 1.0, None),  # all winners: +inf in pyfolio, None here
        (["0", "0"], 0.0, None),  # no gross loss either
        (["-5", "-1"], 0.0, 0.0),  # a defined zero: losses and no profit
        ([], None, None),
    ],
)
def test_trade_statistics_without_losses_or_trades_are_none_not_infinite(
    pnls: list[str], win_rate: float | None, profit_factor: float | None
) -> None:
    report = performance(
        _series([Decimal(100), Decimal(99)]), [Decimal(p) for p in pnls], periods_per_year=DAILY
    )
    assert report.win_rate == win_rate
    assert report.profit_factor == profit_factor
    assert report.trade_count == len(pnls)


@pytest.mark.parametrize("values", [[], ["100"]])
def test_too_short_a_series_leaves_every_return_statistic_undefined(values: list[str]) -> None:
    report = performance(_series([Decimal(v) for v in values]), [], periods_per_year=DAILY)
    return_stats = (
        report.total_return,
        report.annual_return,
        report.sharpe,
        report.sortino,
        report.calmar,
        report.max_drawdown,
    )
    assert return_stats == (None,) * 6
    assert report.periods == 0
    assert report.exposure_time is None


def test_a_single_period_has_returns_but_no_volatility_ratios() -> None:
    report = performance(_series([Decimal(100), Decimal(90)]), [], periods_per_year=DAILY)
    assert report.total_return == pytest.approx(-0.1)
    assert report.max_drawdown == pytest.approx(-0.1)
    assert report.sharpe is None  # ddof=1 needs two periods
    assert report.sortino is None


def test_an_account_wiped_out_at_the_end_is_minus_one_everywhere() -> None:
    values = [Decimal(v) for v in ("100", "50", "0")]
    report = performance(_series(values), [], periods_per_year=DAILY)
    assert report.total_return == -1.0
    assert report.annual_return == -1.0
    assert report.max_drawdown == -1.0
    assert report.calmar == -1.0


def test_an_annual_return_too_large_for_a_float_is_none_not_inf() -> None:
    values = [Decimal(1), Decimal(1000)]
    report = performance(_series(values, timedelta(minutes=1)), [], periods_per_year=525_600)
    assert report.total_return == pytest.approx(999.0)
    assert report.annual_return is None
    assert report.calmar is None


def test_exposure_time_counts_periods_that_start_with_a_position() -> None:
    values = [Decimal(v) for v in ("100", "101", "102", "101", "103")]
    flags = [True, True, False, False, True]  # periods start at points 0..3: two of four held
    report = performance(_series(values), [], periods_per_year=DAILY, exposure=flags)
    assert report.exposure_time == pytest.approx(0.5)

    with pytest.raises(InvalidPerformanceInputError, match="one flag per equity point"):
        performance(_series(values), [], periods_per_year=DAILY, exposure=flags[:-1])


@pytest.mark.parametrize(
    ("equity", "kwargs", "message"),
    [
        ([(T0, Decimal(1)), (T0, Decimal(2))], {}, "increase strictly"),
        ([(T0 + DAY, Decimal(1)), (T0, Decimal(2))], {}, "increase strictly"),
        ([(datetime(2024, 1, 1), Decimal(1))], {}, "timezone-aware"),
        ([(T0, Decimal(1)), (T0 + DAY, Decimal(0)), (T0 + 2 * DAY, Decimal(1))], {}, "positive"),
        ([(T0, Decimal(1)), (T0 + DAY, Decimal(-1))], {}, "positive"),
        ([(T0, Decimal("NaN"))], {}, "finite Decimal"),
        ([(T0, Decimal(1))], {"periods_per_year": 0.0}, "periods_per_year"),
        ([(T0, Decimal(1))], {"periods_per_year": math.inf}, "periods_per_year"),
        ([(T0, Decimal(1))], {"risk_free": math.nan}, "risk_free"),
    ],
)
def test_bad_input_is_refused_with_a_coded_error(
    equity: list[tuple[datetime, Decimal]], kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"periods_per_year": DAILY, **kwargs}
    with pytest.raises(InvalidPerformanceInputError, match=message) as caught:
        performance(equity, [], **arguments)
    assert isinstance(caught.value, TradingError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == "INVALID_PERFORMANCE_INPUT"


def test_non_finite_round_trip_pnl_is_refused() -> None:
    with pytest.raises(InvalidPerformanceInputError, match="round-trip P&L 1"):
        performance(_series([Decimal(1)]), [Decimal(1), Decimal("Infinity")], periods_per_year=1)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(86_400, 365.0), (3_600, 365 * 24.0), (60, 365 * 24 * 60.0), (7 * 86_400, 365 / 7)],
)
def test_periods_per_year_counts_a_365_day_year(seconds: float, expected: float) -> None:
    assert periods_per_year(seconds) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("seconds", [0, -60, math.inf, math.nan])
def test_periods_per_year_refuses_a_non_positive_or_non_finite_period(seconds: float) -> None:
    with pytest.raises(InvalidPerformanceInputError):
        periods_per_year(seconds)


equity_values = st.lists(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1_000_000), places=2),
    min_size=3,
    max_size=60,
)
period_returns = st.lists(
    st.decimals(min_value=Decimal("-0.5"), max_value=Decimal(1), places=4),
    min_size=2,
    max_size=60,
)
yearly_periods = st.sampled_from([12.0, 52.0, 252.0, 365.0, 8760.0])
RATIOS = ("total_return", "annual_return", "sharpe", "sortino", "calmar", "max_drawdown")


@settings(max_examples=150, deadline=None)
@given(values=equity_values, ppy=yearly_periods)
def test_any_positive_equity_gives_bounded_statistics_none_where_empyrical_has_no_number(
    values: list[Decimal], ppy: float
) -> None:
    report = performance(_series(values), [], periods_per_year=ppy)

    assert report.max_drawdown is not None
    assert -1.0 <= report.max_drawdown <= 0.0
    assert report.total_return is not None
    assert report.total_return > -1.0
    reference = _reference(values, [], ppy, 0.0)
    returns = pd.Series([float(v) for v in values]).pct_change().iloc[1:]
    for name in RATIOS:
        ours, theirs = getattr(report, name), reference[name]
        if ours is None:
            # None exactly where empyrical's answer is NaN/inf, or is a float residue of zero
            # volatility (identical returns that pandas' std turns into ~1e-17)
            constant = name == "sharpe" and returns.nunique() == 1
            assert not math.isfinite(theirs) or constant, name
        else:
            assert math.isfinite(ours), name
    if report.calmar is not None:
        assert report.annual_return is not None
        assert math.copysign(1.0, report.calmar) == math.copysign(1.0, report.annual_return)


@settings(max_examples=150, deadline=None)
@given(returns=period_returns, ppy=yearly_periods, risk_free=st.sampled_from([0.0, 0.0002]))
def test_statistics_of_any_return_path_match_the_reference(
    returns: list[Decimal], ppy: float, risk_free: float
) -> None:
    # Returns within -50 %..+100 % a period: wider ranges only measure the reference's own
    # float cancellation (pct_change of a 1e6 fall), not the statistic.
    values = _compounded(Decimal(10_000), [str(r) for r in returns])
    report = performance(_series(values), [], periods_per_year=ppy, risk_free=risk_free)
    reference = _reference(values, [], ppy, risk_free)
    # Exact criteria on the Decimal returns: pandas' pct_change can turn a zero excess into
    # +-1e-17 and give a number where there is none.
    assert (report.sharpe is None) == (len(set(returns)) == 1)
    assert (report.sortino is None) == all(r >= Decimal(str(risk_free)) for r in returns)
    for name in RATIOS:
        ours, theirs = getattr(report, name), reference[name]
        if ours is not None:
            # abs: a zero mean comes out as ~1e-17 / std x sqrt(ppy) in the reference
            assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-9), name
        elif name not in ("sharpe", "sortino"):
            assert not math.isfinite(theirs), name


# ---------------------------------------------------------------------------------- round trips


def _fill(
    side: Side,
    quantity: str,
    price: str,
    at: datetime,
    *,
    symbol: str = "BTC/USD",
    commission: str = "0",
    fill_id: str | None = None,
) -> Fill:
    return Fill(
        fill_id=fill_id or f"{symbol}-{side}-{at.isoformat()}-{quantity}-{price}",
        order_id="ord",
        client_order_id="cli",
        symbol=symbol,
        side=side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        commission=Decimal(commission),
        timestamp=at,
    )


def test_a_long_round_trip_nets_both_commissions() -> None:
    trips = round_trips(
        [
            _fill(BUY, "10", "100", T0, commission="1"),
            _fill(SELL, "10", "110", T0 + DAY, commission="1.5"),
        ]
    )
    assert trips == [
        RoundTrip(
            symbol="BTC/USD",
            side=BUY,
            quantity=Decimal(10),
            entry_price=Decimal(100),
            exit_price=Decimal(110),
            entry_time=T0,
            exit_time=T0 + DAY,
            commission=Decimal("2.5"),
            pnl=Decimal(10 * (110 - 100)) - Decimal("2.5"),
        )
    ]


def test_a_short_round_trip_profits_when_the_price_falls() -> None:
    (trip,) = round_trips([_fill(SELL, "5", "50", T0), _fill(BUY, "5", "40", T0 + DAY)])
    assert trip.side is SELL
    assert trip.pnl == Decimal(5 * (50 - 40))


def test_partial_closes_match_the_oldest_lot_first() -> None:
    trips = round_trips(
        [
            _fill(BUY, "1", "100", T0),
            _fill(BUY, "1", "120", T0 + DAY),
            _fill(SELL, "1", "130", T0 + 2 * DAY),
            _fill(SELL, "1", "110", T0 + 3 * DAY),
        ]
    )
    # FIFO, not average cost (which would book 20 and 0)
    assert [t.pnl for t in trips] == [Decimal(130 - 100), Decimal(110 - 120)]
    assert [t.entry_time for t in trips] == [T0, T0 + DAY]
    assert [t.entry_price for t in trips] == [Decimal(100), Decimal(120)]


def test_one_closing_fill_over_several_lots_is_one_round_trip() -> None:
    trips = round_trips(
        [
            _fill(BUY, "1", "100", T0, commission="1"),
            _fill(BUY, "3", "110", T0 + DAY, commission="3"),
            _fill(SELL, "4", "120", T0 + 2 * DAY, commission="2"),
        ]
    )
    assert len(trips) == 1
    (trip,) = trips
    assert trip.quantity == Decimal(4)
    assert trip.entry_price == Decimal(100 + 3 * 110) / 4  # quantity-weighted: 107.5
    assert trip.entry_time == T0  # the oldest lot closed
    assert trip.commission == Decimal(1 + 3 + 2)
    assert trip.pnl == Decimal((120 - 100) + 3 * (120 - 110)) - 6


def test_a_fill_through_zero_closes_the_trip_and_opens_the_other_side() -> None:
    trips = round_trips(
        [
            _fill(BUY, "2", "100", T0, commission="2"),
            _fill(SELL, "3", "110", T0 + DAY, commission="3"),  # closes 2, opens 1 short
            _fill(BUY, "1", "100", T0 + 2 * DAY, commission="1"),
        ]
    )
    long_trip, short_trip = trips
    # the flipping fill's commission splits by quantity: 2 to the close, 1 to the new lot
    assert (long_trip.side, long_trip.quantity) == (BUY, Decimal(2))
    assert long_trip.pnl == Decimal(2 * (110 - 100)) - 2 - 2
    assert (short_trip.side, short_trip.quantity) == (SELL, Decimal(1))
    assert short_trip.entry_price == Decimal(110)
    assert short_trip.entry_time == T0 + DAY
    assert short_trip.pnl == Decimal(110 - 100) - 1 - 1


def test_a_partly_closed_lot_keeps_the_rest_of_its_commission() -> None:
    trips = round_trips(
        [
            _fill(BUY, "4", "100", T0, commission="4"),
            _fill(SELL, "1", "100", T0 + DAY),
            _fill(SELL, "3", "100", T0 + 2 * DAY),
        ]
    )
    assert [t.commission for t in trips] == [Decimal(1), Decimal(3)]
    assert [t.pnl for t in trips] == [Decimal(-1), Decimal(-3)]


def test_symbols_are_matched_separately_and_open_lots_are_not_trips() -> None:
    trips = round_trips(
        [
            _fill(BUY, "1", "100", T0, symbol="BTC/USD"),
            _fill(SELL, "2", "50", T0, symbol="ETH/USD"),
            _fill(SELL, "1", "90", T0 + DAY, symbol="BTC/USD"),
            _fill(BUY, "1", "10", T0 + DAY, symbol="SOL/USD"),
        ]
    )
    assert [(t.symbol, t.pnl) for t in trips] == [("BTC/USD", Decimal(-10))]


def test_fills_are_taken_in_time_order_and_a_repeated_fill_counts_once() -> None:
    buy = _fill(BUY, "1", "100", T0, fill_id="a")
    sell = _fill(SELL, "1", "105", T0 + DAY, fill_id="b")
    trips = round_trips([sell, buy, buy, sell])
    assert [(t.side, t.pnl) for t in trips] == [(BUY, Decimal(5))]


fill_steps = st.lists(
    st.tuples(
        st.sampled_from([BUY, SELL]),
        st.integers(min_value=1, max_value=9),
        st.integers(min_value=1, max_value=500),
        st.decimals(min_value=Decimal(0), max_value=Decimal(3), places=2),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(steps=fill_steps)
def test_round_trip_pnl_of_a_flat_book_adds_up_to_the_cash_it_made(
    steps: list[tuple[Side, int, int, Decimal]],
) -> None:
    fills = [
        _fill(side, str(qty), str(price), T0 + i * DAY, commission=str(fee), fill_id=str(i))
        for i, (side, qty, price, fee) in enumerate(steps)
    ]
    net = sum(f.signed_quantity for f in fills)
    if net != 0:  # flatten at the end so every lot closes
        side = SELL if net > 0 else BUY
        fills.append(_fill(side, str(abs(net)), "77", T0 + 999 * DAY, fill_id="last"))
    book = Portfolio.start(Decimal(100_000))
    for fill in fills:
        book = book.apply_fill(fill)

    trips = round_trips(fills)

    # Commission shares of split lots are rounded (10 places past the commission's own), so the
    # sums may differ from the ledger by a few units in that last place, never more.
    tolerance = Decimal("1e-9") * len(fills)
    pnl = sum((t.pnl for t in trips), start=Decimal(0))
    assert abs(pnl - (book.cash - Decimal(100_000))) <= tolerance
    paid = sum((t.commission for t in trips), start=Decimal(0))
    assert abs(paid - book.commissions) <= tolerance
    closed = sum(t.quantity for t in trips)
    assert closed == sum(f.quantity for f in fills) / 2  # every unit opened is closed once
    assert all(t.entry_time <= t.exit_time for t in trips)


def test_flat_to_flat_merges_the_closing_fills_of_one_position_into_one_trade() -> None:
    fills = [
        _fill(BUY, "2", "100", T0),
        _fill(BUY, "2", "110", T0 + DAY),  # adds: one position of 4 at 105
        _fill(SELL, "1", "120", T0 + 2 * DAY),  # closing fill 1
        _fill(SELL, "3", "90", T0 + 3 * DAY),  # closing fill 2: flat again
        _fill(SELL, "1", "95", T0 + 4 * DAY),  # a short opens
        _fill(BUY, "3", "85", T0 + 5 * DAY),  # closes it (+10) and flips long 2 at 85
        _fill(SELL, "2", "80", T0 + 6 * DAY),  # flat again (-10)
    ]
    closings = round_trips(fills)
    trades = flat_to_flat(fills)

    assert len(closings) == 4  # the second sell closes both lots in one trip
    assert len(trades) == 3
    first, short, last = trades
    assert first.side is BUY
    assert first.quantity == Decimal(4)
    assert first.pnl == closings[0].pnl + closings[1].pnl
    assert first.entry_time == T0
    assert first.exit_time == T0 + 3 * DAY
    assert short.side is SELL
    assert short.quantity == Decimal(1)
    assert last.side is BUY
    assert last.quantity == Decimal(2)
    assert sum(t.pnl for t in trades) == sum(t.pnl for t in closings)


def test_flat_to_flat_leaves_out_a_position_still_open() -> None:
    fills = [_fill(BUY, "2", "100", T0), _fill(SELL, "1", "120", T0 + DAY)]
    assert len(round_trips(fills)) == 1
    assert flat_to_flat(fills) == []
