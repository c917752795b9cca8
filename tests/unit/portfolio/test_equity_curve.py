"""Equity rebuilt from fills and bar closes: hand-computed steps, grid alignment, ledger parity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar, Timeframe
from trading_core.domain.order import Side
from trading_core.domain.portfolio import Portfolio
from trading_core.portfolio.equity_curve import EquityPoint, equity_curve
from trading_core.portfolio.performance import (
    InvalidPerformanceInputError,
    performance,
    periods_per_year,
    round_trips,
)

BUY, SELL = Side.BUY, Side.SELL
BTC, ETH = "BTC/USD", "ETH/USD"
T = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday, 00:00 UTC
HOUR = timedelta(hours=1)
CASH = Decimal(10_000)
ZERO = Decimal(0)


def _bar(close: str, opened: datetime, *, symbol: str = BTC, tf: Timeframe = Timeframe.H1) -> Bar:
    price = Decimal(close)
    return Bar(
        symbol=symbol,
        timeframe=tf,
        timestamp=opened,
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1),
    )


def _fill(
    side: Side,
    quantity: str,
    price: str,
    at: datetime,
    *,
    symbol: str = BTC,
    commission: str = "0",
    fill_id: str | None = None,
) -> Fill:
    return Fill(
        fill_id=fill_id or f"{symbol}-{side}-{at.isoformat()}",
        order_id="ord",
        client_order_id="cli",
        symbol=symbol,
        side=side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        commission=Decimal(commission),
        timestamp=at,
    )


# Hourly BTC bars opening 00:00..03:00, so they close 01:00..04:00 at 99, 110, 105, 120.
BARS = [_bar(c, T + i * HOUR) for i, c in enumerate(("99", "110", "105", "120"))]
BUY_AT_ONE = _fill(BUY, "10", "100", T + HOUR, commission="1")
SELL_AT_HALF_PAST_THREE = _fill(SELL, "10", "118", T + 3.5 * HOUR, commission="1")


def _rows(points: list[EquityPoint]) -> list[tuple[datetime, Decimal, Decimal, Decimal, bool]]:
    return [(p.timestamp, p.cash, p.positions_value, p.equity, p.exposed) for p in points]


def test_a_buy_a_move_and_a_sell_reproduce_the_hand_computed_equity_at_every_step() -> None:
    fills = [BUY_AT_ONE, SELL_AT_HALF_PAST_THREE]
    curve = equity_curve(fills, {BTC: BARS}, initial_cash=CASH, resolution=Timeframe.H1)

    cash_after_buy = CASH - 10 * 100 - 1  # 8999
    cash_after_sell = cash_after_buy + 10 * 118 - 1  # 10178
    assert _rows(curve) == [
        # the step before the first event: nothing has happened yet
        (T, CASH, ZERO, CASH, False),
        # the 01:00 bar closed at 99, but the fill at that same moment is the later price
        (T + HOUR, cash_after_buy, 10 * 100, cash_after_buy + 10 * 100, True),
        (T + 2 * HOUR, cash_after_buy, 10 * 110, cash_after_buy + 10 * 110, True),
        (T + 3 * HOUR, cash_after_buy, 10 * 105, cash_after_buy + 10 * 105, True),
        (T + 4 * HOUR, cash_after_sell, ZERO, cash_after_sell, False),
    ]
    high_at_two = cash_after_buy + 1100  # 10099
    assert [p.drawdown_pct for p in curve] == [
        0,
        (CASH - (cash_after_buy + 1000)) / CASH * 100,  # 0.01 %
        0,
        (high_at_two - (cash_after_buy + 1050)) / high_at_two * 100,
        0,
    ]
    ledger_end = Portfolio.start(CASH).apply_fill(BUY_AT_ONE).apply_fill(SELL_AT_HALF_PAST_THREE)
    assert curve[-1].equity == ledger_end.equity
    assert curve[-1].cash == ledger_end.cash


def test_an_open_position_ends_valued_at_the_last_bar_close_like_a_marked_portfolio() -> None:
    curve = equity_curve([BUY_AT_ONE], {BTC: BARS}, initial_cash=CASH, resolution=Timeframe.H1)

    marked = Portfolio.start(CASH).apply_fill(BUY_AT_ONE).mark(BTC, Decimal(120), T + 4 * HOUR)
    assert curve[-1].timestamp == T + 4 * HOUR
    assert curve[-1].equity == marked.equity == CASH - 1000 - 1 + 10 * 120
    assert curve[-1].positions_value == 10 * 120
    assert curve[-1].exposed


def test_a_bar_that_closed_before_the_last_fill_does_not_override_the_fill_price() -> None:
    daily = [_bar("100", T - timedelta(days=1), tf=Timeframe.D1)]  # closes at T
    buy = _fill(BUY, "1", "105", T + 0.5 * HOUR)
    curve = equity_curve([buy], {BTC: daily}, initial_cash=CASH, resolution=Timeframe.H1)

    assert [p.timestamp for p in curve] == [T - HOUR, T, T + HOUR]
    assert [p.positions_value for p in curve] == [0, 0, 105]


def test_a_symbol_without_bars_is_valued_at_its_last_fill_price() -> None:
    fills = [
        BUY_AT_ONE,
        _fill(SELL, "2", "50", T + 1.5 * HOUR, symbol=ETH),
        _fill(SELL, "1", "40", T + 2.5 * HOUR, symbol=ETH),
    ]
    curve = equity_curve(fills, {BTC: BARS}, initial_cash=CASH, resolution=Timeframe.H1)

    at_three = next(p for p in curve if p.timestamp == T + 3 * HOUR)
    # BTC 10 x 105 (bar); ETH short 3, last traded at 40
    assert at_three.positions_value == 10 * 105 - 3 * 40
    assert at_three.cash == CASH - 1000 - 1 + 2 * 50 + 40


def test_start_keeps_later_points_and_remembers_the_earlier_high() -> None:
    fills = [BUY_AT_ONE, SELL_AT_HALF_PAST_THREE]
    full = equity_curve(fills, {BTC: BARS}, initial_cash=CASH, resolution=Timeframe.H1)
    late = equity_curve(
        fills, {BTC: BARS}, initial_cash=CASH, start=T + 2.5 * HOUR, resolution=Timeframe.H1
    )

    assert late == full[3:]  # 03:00 and 04:00, the 02:00 high still counting at 03:00
    assert late[0].drawdown_pct > 0


def test_a_start_before_any_event_opens_the_curve_there_at_initial_cash() -> None:
    early = equity_curve(
        [BUY_AT_ONE], {}, initial_cash=CASH, start=T - 2 * HOUR, resolution=Timeframe.H1
    )
    assert [(p.timestamp, p.equity) for p in early[:3]] == [
        (T - 2 * HOUR, CASH),
        (T - HOUR, CASH),
        (T, CASH),
    ]
    assert early[-1].timestamp == T + HOUR


def test_nothing_to_show_is_an_empty_curve_and_a_bare_start_is_one_point() -> None:
    assert equity_curve([], {}, initial_cash=CASH, resolution=Timeframe.H1) == []
    assert equity_curve([], {BTC: []}, initial_cash=CASH, resolution=Timeframe.H1) == []
    (point,) = equity_curve(
        [], {}, initial_cash=CASH, start=T + 0.25 * HOUR, resolution=Timeframe.H1
    )
    assert (point.timestamp, point.equity, point.drawdown_pct) == (T + HOUR, CASH, ZERO)


@pytest.mark.parametrize(
    ("resolution", "fill_time", "expected"),
    [
        # weeks start on Monday 00:00 UTC
        (
            Timeframe.W1,
            datetime(2024, 3, 13, 12, tzinfo=UTC),
            [datetime(2024, 3, 11, tzinfo=UTC), datetime(2024, 3, 18, tzinfo=UTC)],
        ),
        # calendar months, across a year end
        (
            Timeframe.MO1,
            datetime(2024, 12, 15, tzinfo=UTC),
            [datetime(2024, 12, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)],
        ),
        # a fill exactly on a boundary gets the step before it, then its own
        (Timeframe.D1, T, [T - timedelta(days=1), T]),
        (Timeframe.M15, T + timedelta(minutes=7), [T, T + timedelta(minutes=15)]),
    ],
)
def test_the_grid_is_aligned_to_utc_boundaries_of_the_resolution(
    resolution: Timeframe, fill_time: datetime, expected: list[datetime]
) -> None:
    fill = _fill(BUY, "1", "100", fill_time)
    curve = equity_curve([fill], {}, initial_cash=CASH, resolution=resolution)
    assert [p.timestamp for p in curve] == expected
    assert [p.exposed for p in curve] == [False, True]


def test_a_repeated_fill_is_counted_once_and_fills_may_come_unsorted() -> None:
    once = equity_curve(
        [BUY_AT_ONE, SELL_AT_HALF_PAST_THREE],
        {BTC: BARS},
        initial_cash=CASH,
        resolution=Timeframe.H1,
    )
    repeated = equity_curve(
        [SELL_AT_HALF_PAST_THREE, BUY_AT_ONE, BUY_AT_ONE],
        {BTC: BARS},
        initial_cash=CASH,
        resolution=Timeframe.H1,
    )
    assert repeated == once


def test_bars_filed_under_another_symbol_or_a_naive_start_are_refused() -> None:
    with pytest.raises(InvalidPerformanceInputError, match="BTC/USD were given under ETH/USD"):
        equity_curve([], {ETH: BARS}, initial_cash=CASH, resolution=Timeframe.H1)
    with pytest.raises(InvalidPerformanceInputError, match="timezone-aware"):
        equity_curve([], {}, initial_cash=CASH, start=datetime(2024, 3, 4), resolution=Timeframe.H1)


def test_the_curve_feeds_performance_with_its_exposure_flags() -> None:
    fills = [BUY_AT_ONE, SELL_AT_HALF_PAST_THREE]
    curve = equity_curve(fills, {BTC: BARS}, initial_cash=CASH, resolution=Timeframe.H1)

    report = performance(
        [(p.timestamp, p.equity) for p in curve],
        [t.pnl for t in round_trips(fills)],
        periods_per_year=periods_per_year(Timeframe.H1.duration.total_seconds()),
        exposure=[p.exposed for p in curve],
    )
    assert report.exposure_time == pytest.approx(3 / 4)  # held from 01:00 through 03:00
    assert report.total_return == pytest.approx(float((CASH + 178) / CASH - 1))
    assert report.trade_count == 1
    assert report.win_rate == 1.0  # 10 x (118 - 100) - 2 = 178
    # the deeper of the two dips: 10099 -> 10049 (the first was 10000 -> 9999)
    assert report.max_drawdown == pytest.approx(float(Decimal(10_049) / Decimal(10_099) - 1))


fill_plans = st.lists(
    st.tuples(
        st.sampled_from([BUY, SELL]),
        st.integers(min_value=1, max_value=5),
        st.integers(min_value=50, max_value=150),
        st.integers(min_value=0, max_value=10 * 60 - 1),  # minute of a 10-hour window
        st.sampled_from([BTC, ETH]),
    ),
    max_size=25,
)


@settings(max_examples=100, deadline=None)
@given(
    plan=fill_plans,
    closes=st.lists(st.integers(min_value=50, max_value=150), min_size=12, max_size=12),
)
def test_any_history_ends_where_the_ledger_ends_and_every_point_is_consistent(
    plan: list[tuple[Side, int, int, int, str]], closes: list[int]
) -> None:
    fills = [
        _fill(side, str(qty), str(price), T + timedelta(minutes=minute), symbol=sym, fill_id=str(i))
        for i, (side, qty, price, minute, sym) in enumerate(plan)
    ]
    # BTC has hourly bars closing 01:00..12:00, after every fill; ETH has none
    bars = [_bar(str(c), T + i * HOUR) for i, c in enumerate(closes)]
    curve = equity_curve(fills, {BTC: bars}, initial_cash=CASH, resolution=Timeframe.H1)

    book = Portfolio.start(CASH)
    for fill in sorted(fills, key=lambda f: f.timestamp):
        book = book.apply_fill(fill)
    book = book.mark(BTC, Decimal(closes[-1]), T + 12 * HOUR)
    first_event = min([f.timestamp for f in fills] + [bars[0].close_time])
    assert curve[0].timestamp < first_event
    assert curve[0].equity == CASH
    assert curve[-1].timestamp == T + 12 * HOUR
    assert curve[-1].equity == book.equity
    assert curve[-1].cash == book.cash
    high = CASH
    for before, point in pairwise(curve):
        assert point.timestamp - before.timestamp == HOUR
    for point in curve:
        assert point.equity == point.cash + point.positions_value
        high = max(high, point.equity)
        assert point.drawdown_pct == (high - point.equity) / high * 100
