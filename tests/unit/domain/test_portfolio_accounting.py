"""Portfolio cash, equity, exposure, drawdown, high-water mark and daily P&L."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from trading_core.domain.fill import Fill
from trading_core.domain.order import Side
from trading_core.domain.portfolio import Portfolio
from trading_core.domain.position import Position

BUY, SELL = Side.BUY, Side.SELL
T1 = datetime(2024, 3, 1, 15, 0, tzinfo=UTC)
FillFactory = Callable[..., Fill]


def test_a_new_portfolio_is_all_cash() -> None:
    book = Portfolio.start(Decimal(10_000))

    assert book.equity == Decimal(10_000)
    assert book.high_water_mark == Decimal(10_000)
    assert book.drawdown_pct == Decimal(0)
    assert book.daily_pnl == Decimal(0)
    assert book.gross_exposure == Decimal(0)


def test_walkthrough_of_fills_and_marks(make_fill: FillFactory) -> None:
    book = Portfolio.start(Decimal(10_000))

    book = book.apply_fill(make_fill(BUY, "10", "100", commission="1"))
    # cash 10000 - 1000 - 1 = 8999; XYZ marked at its fill price: 10 x 100 = 1000
    assert book.cash == Decimal(8999)
    assert book.equity == Decimal(9999)
    assert book.high_water_mark == Decimal(10_000)
    assert book.drawdown_pct == Decimal("0.01")  # 1 / 10000 x 100
    assert book.daily_pnl == Decimal(-1)
    assert book.daily_pnl_pct == Decimal("-0.01")
    assert book.gross_exposure == book.net_exposure == Decimal(1000)

    book = book.mark("XYZ", Decimal(120), T1)
    # 8999 + 1200 = 10199: a new high
    assert book.equity == Decimal(10_199)
    assert book.high_water_mark == Decimal(10_199)
    assert book.drawdown_pct == Decimal(0)
    assert book.unrealized_pnl == Decimal(200)
    assert book.as_of == T1

    book = book.mark("XYZ", Decimal(110), T1)
    # 8999 + 1100 = 10099; drawdown 100 / 10199 = 0.980488...%
    assert book.equity == Decimal(10_099)
    assert book.high_water_mark == Decimal(10_199)
    assert book.drawdown_pct.quantize(Decimal("0.000001")) == Decimal("0.980488")

    book = book.apply_fill(make_fill(SELL, "20", "50", symbol="ABC", commission="0.5"))
    # short ABC: cash 8999 + 1000 - 0.5 = 9998.5; XYZ 1100 long, ABC -1000 short
    assert book.cash == Decimal("9998.5")
    assert book.gross_exposure == Decimal(2100)
    assert book.net_exposure == Decimal(100)
    assert book.equity == Decimal("10098.5")

    book = book.roll_day()
    assert book.start_of_day_equity == Decimal("10098.5")
    assert book.daily_pnl == Decimal(0)

    book = book.mark("ABC", Decimal(45), T1)
    # the short gains 5 x 20 = 100; still below the 10199 high
    assert book.equity == Decimal("10198.5")
    assert book.daily_pnl == Decimal(100)
    assert book.high_water_mark == Decimal(10_199)

    book = book.mark("ABC", Decimal(40), T1)
    assert book.equity == Decimal("10298.5")
    assert book.high_water_mark == Decimal("10298.5")

    book = book.apply_fill(make_fill(SELL, "10", "115", commission="1"))
    # XYZ closed: cash 9998.5 + 1150 - 1 = 11147.5, realized (115 - 100) x 10 = 150
    assert book.cash == Decimal("11147.5")
    assert book.position("XYZ").is_flat
    assert book.realized_pnl == Decimal(150)
    assert book.unrealized_pnl == Decimal(200)  # ABC: (40 - 50) x -20
    assert book.commissions == Decimal("2.5")
    assert book.equity == Decimal("10347.5")  # 11147.5 - 20 x 40
    # the books balance: start + realized + unrealized - commissions = equity
    assert Decimal(10_000) + Decimal(150) + Decimal(200) - Decimal("2.5") == book.equity


def test_apply_fill_leaves_the_original_portfolio_untouched(make_fill: FillFactory) -> None:
    before = Portfolio.start(Decimal(500))

    after = before.apply_fill(make_fill(BUY, "1", "100"))

    assert before.cash == Decimal(500)
    assert before.positions == {}
    assert after.cash == Decimal(400)


def test_unmarked_position_is_valued_at_its_average_entry() -> None:
    book = Portfolio(
        cash=Decimal(0),
        positions={"XYZ": Position(symbol="XYZ", quantity=Decimal(5), average_price=Decimal(20))},
        high_water_mark=Decimal(100),
        start_of_day_equity=Decimal(100),
    )

    assert book.mark_of("XYZ") == Decimal(20)
    assert book.equity == Decimal(100)
    assert book.position("ABC").is_flat


def test_percentages_are_zero_when_there_is_no_equity_base() -> None:
    book = Portfolio.start(Decimal(0))

    assert book.drawdown_pct == Decimal(0)
    assert book.daily_pnl_pct == Decimal(0)


def test_high_water_mark_never_falls(make_fill: FillFactory) -> None:
    book = Portfolio.start(Decimal(1000)).apply_fill(make_fill(BUY, "1", "100"))
    highs = []
    for price in ["150", "90", "160", "10", "155"]:
        book = book.mark("XYZ", Decimal(price), T1)
        highs.append(book.high_water_mark)

    # equity = 900 + price: 1050, 990, 1060, 910, 1055
    assert highs == [Decimal(1050), Decimal(1050), Decimal(1060), Decimal(1060), Decimal(1060)]
    assert book.drawdown_pct.quantize(Decimal("0.0001")) == Decimal("0.4717")  # 5 / 1060


_fills = st.lists(
    st.tuples(
        st.sampled_from([BUY, SELL]),
        st.integers(min_value=1, max_value=50),
        st.integers(min_value=1, max_value=500),
        st.integers(min_value=0, max_value=5),
    ),
    min_size=1,
    max_size=25,
)


@given(fills=_fills, final_mark=st.integers(min_value=1, max_value=500))
def test_equity_equals_start_plus_realized_plus_unrealized_minus_fees(
    fills: list[tuple[Side, int, int, int]], final_mark: int
) -> None:
    book = Portfolio.start(Decimal(100_000))
    cash_flow = Decimal(0)
    for n, (side, quantity, price, fee) in enumerate(fills):
        fill = Fill(
            fill_id=f"f{n}",
            order_id="o",
            client_order_id="c",
            symbol="XYZ",
            side=side,
            quantity=Decimal(quantity),
            price=Decimal(price),
            commission=Decimal(fee),
            timestamp=T1,
        )
        book = book.apply_fill(fill)
        cash_flow -= fill.signed_quantity * fill.price + fill.commission
    book = book.mark("XYZ", Decimal(final_mark), T1)

    net = sum((Decimal(q) * s.sign for s, q, _, _ in fills), start=Decimal(0))
    assert book.position("XYZ").quantity == net
    assert book.cash == Decimal(100_000) + cash_flow
    assert book.equity == book.cash + net * final_mark
    identity = (
        Decimal(100_000) + book.realized_pnl + book.unrealized_pnl - book.commissions - book.equity
    )
    # averages are divided at 28 significant digits, so allow dust
    assert abs(identity) < Decimal("1e-18")
    assert book.high_water_mark >= book.equity
