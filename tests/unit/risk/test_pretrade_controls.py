"""Every pre-trade control, with hand numbers: just under the cap passes, just over fails.

Unless a test says otherwise: equity and cash 100,000; a crypto instrument with tick 0.01 and lot
0.001; a fresh quote 99.95 / 100.05 (mid 100); a buy of 10 at 100.00. So 5 % of equity is 5,000,
10 % is 10,000 and 25 % is 25,000.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from trading_core.domain.instrument import AssetClass, Instrument
from trading_core.domain.market import Quote
from trading_core.domain.order import OrderType, Side, TimeInForce
from trading_core.risk import pretrade
from trading_core.risk.firm import FirmExposure
from trading_core.risk.pretrade import (
    CheckContext,
    ExposureView,
    OrderRequest,
    RiskDecision,
    Violation,
    check_order,
    to_marketable_limit,
)
from trading_core.risk.risk_config import RiskLimits, load_risk_limits
from trading_core.risk.throttles import PreTradeThrottles, ThrottleView

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SYMBOL = "BTC/USD"


def instrument(asset_class: AssetClass = AssetClass.CRYPTO, tick: str = "0.01") -> Instrument:
    return Instrument(
        symbol=SYMBOL,
        broker="paper",
        asset_class=asset_class,
        currency="USD",
        tick_size=Decimal(tick),
        lot_size=Decimal("0.001"),
        min_quantity=Decimal("0.001"),
        max_quantity=Decimal(1000),
    )


def quote(mid: str = "100", half_spread: str = "0.05", at: datetime = T0) -> Quote:
    m, h = Decimal(mid), Decimal(half_spread)
    return Quote(symbol=SYMBOL, bid=m - h, ask=m + h, last=m, timestamp=at, source="test")


def view(**changes: Any) -> ExposureView:
    values: dict[str, Any] = {
        "now": T0,
        "equity": Decimal(100_000),
        "cash": Decimal(100_000),
        "quote": quote(),
    }
    return ExposureView.model_validate({**values, **changes})


def order(**changes: Any) -> OrderRequest:
    values: dict[str, Any] = {
        "symbol": SYMBOL,
        "side": Side.BUY,
        "quantity": Decimal(10),
        "limit_price": Decimal(100),
        "client_order_id": "c-1",
        "strategy_id": "s1",
    }
    return OrderRequest.model_validate({**values, **changes})


def check(
    request: OrderRequest | None = None,
    exposure: ExposureView | None = None,
    limits: RiskLimits | None = None,
    traded: Instrument | None = None,
) -> RiskDecision:
    return check_order(request or order(), traded or instrument(), exposure or view(), limits)


def assert_just_under_passes_just_over_fails(
    under: RiskDecision, over: RiskDecision, code: str
) -> None:
    assert under.approved, under.violations
    assert over.codes == [code], over.violations


def test_a_plain_order_within_every_limit_is_approved_and_sent_as_is() -> None:
    decision = check()
    assert decision.approved
    assert decision.notional == Decimal(1000)
    assert decision.reference_price == Decimal(100)
    assert decision.order_to_send == order()
    assert decision.reduces_position is False
    assert decision.halt is False


def test_order_notional_may_reach_five_percent_of_equity_but_not_exceed_it() -> None:
    under = check(order(quantity="50"))
    over = check(order(quantity="50.001"))
    assert_just_under_passes_just_over_fails(under, over, "NOTIONAL_EXCEEDS_MAX_PER_ORDER")


@pytest.mark.parametrize(
    ("asset_class", "mid", "tick", "inside", "outside"),
    [
        (AssetClass.CRYPTO, "100", "0.01", "105.00", "105.01"),
        (AssetClass.EQUITY, "100", "0.01", "103.00", "103.01"),
        (AssetClass.FX, "1.1", "0.0001", "1.1055", "1.1056"),
    ],
)
def test_limit_price_may_sit_on_the_collar_edge_but_not_beyond_it(
    asset_class: AssetClass, mid: str, tick: str, inside: str, outside: str
) -> None:
    traded = instrument(asset_class, tick)
    at_mid = view(quote=quote(mid, half_spread=tick))
    under = check(order(limit_price=inside, quantity="1"), at_mid, traded=traded)
    over = check(order(limit_price=outside, quantity="1"), at_mid, traded=traded)
    assert_just_under_passes_just_over_fails(under, over, "PRICE_OUTSIDE_COLLAR")


def test_a_stop_limit_is_collared_against_its_stop_price() -> None:
    def stop_limit(limit: str) -> OrderRequest:
        return order(order_type=OrderType.STOP_LIMIT, stop_price="110", limit_price=limit)

    under, over = check(stop_limit("115.50")), check(stop_limit("115.51"))
    assert_just_under_passes_just_over_fails(under, over, "PRICE_OUTSIDE_COLLAR")


def test_a_reference_sixty_seconds_old_still_prices_an_order_and_sixty_one_does_not() -> None:
    under = check(exposure=view(now=T0 + timedelta(seconds=60)))
    over = check(exposure=view(now=T0 + timedelta(seconds=61)))
    assert_just_under_passes_just_over_fails(under, over, "STALE_REFERENCE")


def test_projected_position_may_reach_ten_percent_of_equity_but_not_exceed_it() -> None:
    holding = view(position_quantity=Decimal(60), gross_exposure=6000, net_exposure=6000)
    under = check(order(quantity="40"), holding)
    over = check(order(quantity="40.001"), holding)
    assert_just_under_passes_just_over_fails(under, over, "POSITION_LIMIT")


def test_cash_must_cover_open_buys_plus_this_order() -> None:
    short_of_cash = view(cash=Decimal(5_000), open_buy_notional=Decimal(1_000))
    under = check(order(quantity="40"), short_of_cash)
    over = check(order(quantity="40.001"), short_of_cash)
    assert_just_under_passes_just_over_fails(under, over, "INSUFFICIENT_FUNDS")


def test_a_cash_account_sells_at_most_what_it_holds_net_of_open_sells() -> None:
    holding = view(position_quantity=Decimal(10), open_sell_quantity=Decimal(4))
    under = check(order(side=Side.SELL, quantity="6"), holding)
    over = check(order(side=Side.SELL, quantity="6.001"), holding)
    assert_just_under_passes_just_over_fails(under, over, "SHORT_SELLING_NOT_ALLOWED")


@pytest.mark.parametrize(
    ("field", "cap"), [("open_orders_total", 20), ("open_orders_for_symbol", 3)]
)
def test_open_orders_are_capped_in_total_and_per_symbol(field: str, cap: int) -> None:
    under = check(exposure=view(**{field: cap - 1}))
    over = check(exposure=view(**{field: cap}))
    assert_just_under_passes_just_over_fails(under, over, "MAX_OPEN_ORDERS")


def test_gross_exposure_may_reach_equity_but_not_exceed_it() -> None:
    # 95,000 held elsewhere, a 5,000 buy: exactly 100 % of equity.
    under = check(order(quantity="50"), view(gross_exposure=95_000, net_exposure=10_000))
    over = check(order(quantity="50"), view(gross_exposure="95000.01", net_exposure=10_000))
    assert_just_under_passes_just_over_fails(under, over, "GROSS_EXPOSURE_LIMIT")


def test_net_exposure_is_capped_separately_from_gross() -> None:
    tighter = load_risk_limits({"max_net_exposure_pct": 50})
    under = check(order(quantity="50"), view(gross_exposure=45_000, net_exposure=45_000), tighter)
    over = check(
        order(quantity="50"), view(gross_exposure=45_000, net_exposure="45000.01"), tighter
    )
    assert_just_under_passes_just_over_fails(under, over, "NET_EXPOSURE_LIMIT")


def throttled(**counts: Any) -> ExposureView:
    return view(throttles=ThrottleView.model_validate(counts))


@pytest.mark.parametrize(
    ("field", "cap"), [("submits_last_second", 5), ("submits_last_minute", 60)]
)
def test_submit_rate_allows_five_a_second_and_sixty_a_minute(field: str, cap: int) -> None:
    under = check(exposure=throttled(**{field: cap - 1}))
    over = check(exposure=throttled(**{field: cap}))
    assert_just_under_passes_just_over_fails(under, over, "RATE_LIMITED")


def test_rolling_window_notional_may_reach_a_quarter_of_equity_but_not_exceed_it() -> None:
    under = check(order(quantity="50"), throttled(window_notional=20_000))
    over = check(order(quantity="50"), throttled(window_notional="20000.01"))
    assert_just_under_passes_just_over_fails(under, over, "WINDOW_NOTIONAL_EXCEEDED")


def test_the_same_content_sent_moments_ago_is_a_duplicate() -> None:
    under = check(exposure=throttled(duplicate_of_recent=False))
    over = check(exposure=throttled(duplicate_of_recent=True))
    assert_just_under_passes_just_over_fails(under, over, "DUPLICATE_ORDER")


def test_the_two_hundredth_order_of_the_day_passes_and_the_next_is_refused() -> None:
    under = check(exposure=throttled(orders_today=199))
    over = check(exposure=throttled(orders_today=200))
    assert_just_under_passes_just_over_fails(under, over, "DAILY_ORDER_LIMIT")


def test_repeated_executions_refuse_the_order_and_ask_the_caller_to_halt() -> None:
    under = check(exposure=throttled(fills_in_execution_window=10))
    over = check(exposure=throttled(fills_in_execution_window=11))
    assert_just_under_passes_just_over_fails(under, over, "REPEATED_EXECUTION")
    assert under.halt is False
    assert over.halt is True
    latched = check(exposure=throttled(repeated_execution_latched=True))
    assert latched.codes == ["REPEATED_EXECUTION"]
    assert latched.halt is True


def test_a_plain_stop_order_is_not_an_allowed_type() -> None:
    decision = check(order(order_type=OrderType.STOP, stop_price="110", limit_price=None))
    assert decision.codes == ["ORDER_TYPE_NOT_ALLOWED"]


def test_configuration_can_remove_order_types_and_time_in_force() -> None:
    tighter = load_risk_limits(
        {"allowed_order_types": ["limit"], "allowed_time_in_force": ["gtc", "day"]}
    )
    assert check(limits=tighter).approved
    stop_limit = order(order_type=OrderType.STOP_LIMIT, stop_price="100")
    assert check(stop_limit, limits=tighter).codes == ["ORDER_TYPE_NOT_ALLOWED"]
    market = order(order_type=OrderType.MARKET, limit_price=None)
    assert check(market, limits=tighter).codes == ["ORDER_TYPE_NOT_ALLOWED"]
    assert check(order(time_in_force=TimeInForce.IOC), limits=tighter).codes == ["TIF_NOT_ALLOWED"]


def test_an_off_tick_price_is_refused_rather_than_rounded() -> None:
    on_tick = check(order(limit_price="100.01"))
    off_tick = check(order(limit_price="100.005"))
    assert_just_under_passes_just_over_fails(on_tick, off_tick, "PRICE_PRECISION")
    assert off_tick.order_to_send is not None
    assert off_tick.order_to_send.limit_price == Decimal("100.005")


def test_a_market_buy_becomes_an_ioc_limit_at_the_collar_edge_rounded_down() -> None:
    # mid 100.003: the 5 % collar edge is 105.00315, rounded to the passive side: 105.00.
    decision = check(
        order(order_type=OrderType.MARKET, limit_price=None),
        view(quote=quote("100.003", half_spread="0.005")),
    )
    assert decision.approved, decision.violations
    assert decision.marketable_limit_price == Decimal("105.00")
    sent = decision.order_to_send
    assert sent is not None
    assert (sent.order_type, sent.limit_price, sent.time_in_force) == (
        OrderType.LIMIT,
        Decimal("105.00"),
        TimeInForce.IOC,
    )
    assert decision.notional == Decimal(1050)  # priced at the worst price it may pay


def test_a_market_sell_is_rounded_up_and_fok_stays_fok() -> None:
    request = order(
        side=Side.SELL, order_type=OrderType.MARKET, limit_price=None, time_in_force="fok"
    )
    converted = to_marketable_limit(request, quote("100.003", "0.005"), instrument())
    assert converted.limit_price == Decimal("95.01")  # edge 95.00285, never below it
    assert converted.time_in_force is TimeInForce.FOK
    assert converted.client_order_id == request.client_order_id


def test_a_market_order_is_checked_at_its_converted_price() -> None:
    market = {"order_type": OrderType.MARKET, "limit_price": None}
    under = check(order(quantity="47.619", **market))  # 47.619 x 105 = 4,999.995
    over = check(order(quantity="47.620", **market))  # 5,000.10
    assert_just_under_passes_just_over_fails(under, over, "NOTIONAL_EXCEEDS_MAX_PER_ORDER")


def test_a_market_order_without_a_fresh_reference_is_refused_unconverted() -> None:
    market = order(order_type=OrderType.MARKET, limit_price=None)
    stale = check(market, view(now=T0 + timedelta(minutes=10)))
    missing = check(market, view(quote=None))
    assert stale.codes == ["STALE_REFERENCE"]
    assert missing.codes == ["NO_REFERENCE_PRICE"]
    for decision in (stale, missing):
        assert decision.order_to_send is not None
        assert decision.order_to_send.order_type is OrderType.MARKET
        assert decision.marketable_limit_price is None


def test_converting_a_non_market_order_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="only market orders"):
        to_marketable_limit(order(), quote(), instrument())


def test_violations_accumulate_instead_of_stopping_at_the_first() -> None:
    decision = check(
        order(quantity="60", limit_price="110.005"),
        view(
            throttles=ThrottleView(
                submits_last_second=5, orders_today=200, duplicate_of_recent=True
            ),
            open_orders_for_symbol=3,
        ),
    )
    assert not decision.approved
    assert set(decision.codes) == {
        "PRICE_PRECISION",
        "PRICE_OUTSIDE_COLLAR",
        "NOTIONAL_EXCEEDS_MAX_PER_ORDER",
        "MAX_OPEN_ORDERS",
        "RATE_LIMITED",
        "DUPLICATE_ORDER",
        "DAILY_ORDER_LIMIT",
    }


def test_a_risk_reducing_order_passes_exhausted_throttles_but_not_the_halt_latch() -> None:
    exhausted = ThrottleView(
        submits_last_second=5,
        submits_last_minute=60,
        window_notional=1_000_000,
        orders_today=200,
        duplicate_of_recent=True,
    )
    holding = view(position_quantity=Decimal(20), throttles=exhausted)
    reduce = check(order(side=Side.SELL, quantity="10"), holding)
    assert reduce.approved, reduce.violations
    assert reduce.reduces_position is True
    add = check(order(side=Side.BUY, quantity="10"), holding)
    assert set(add.codes) == {
        "RATE_LIMITED",
        "WINDOW_NOTIONAL_EXCEEDED",
        "DUPLICATE_ORDER",
        "DAILY_ORDER_LIMIT",
    }
    assert add.reduces_position is False
    halted = holding.model_copy(update={"throttles": ThrottleView(repeated_execution_latched=True)})
    assert check(order(side=Side.SELL, quantity="10"), halted).codes == ["REPEATED_EXECUTION"]


def test_a_sell_is_only_risk_reducing_when_open_sells_leave_room_for_it() -> None:
    holding = view(position_quantity=Decimal(20), open_sell_quantity=Decimal(15))
    assert check(order(side=Side.SELL, quantity="5"), holding).reduces_position is True
    beyond = check(order(side=Side.SELL, quantity="5.001"), holding)
    assert beyond.reduces_position is False


def test_a_dry_run_never_consumes_throttle_budget() -> None:
    throttles = PreTradeThrottles(RiskLimits())
    request = order()
    for _ in range(200):  # far beyond every per-second, per-minute and daily budget
        snapshot = throttles.snapshot(request, T0)
        assert check(request, view(throttles=snapshot)).approved
    assert throttles.snapshot(request, T0) == ThrottleView()
    throttles.record_submit(request, Decimal(1000), T0)
    again = check(request, view(throttles=throttles.snapshot(request, T0)))
    assert again.codes == ["DUPLICATE_ORDER"]


def _boom(context: CheckContext) -> list[Violation]:
    raise ArithmeticError("division by zero in a control")


def test_a_control_that_raises_refuses_the_order_and_the_other_controls_still_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pretrade, "CONTROLS", (_boom, *pretrade.CONTROLS))
    clean = check()
    assert not clean.approved
    assert clean.codes == ["RISK_CHECK_ERROR"]
    assert "_boom" in clean.violations[0].message
    with_other = check(order(limit_price="200"))
    assert with_other.codes == ["RISK_CHECK_ERROR", "PRICE_OUTSIDE_COLLAR"]


def test_a_failure_while_preparing_the_check_refuses_the_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(request: OrderRequest, exposure: ExposureView) -> bool:
        raise KeyError("position")

    monkeypatch.setattr(pretrade, "_reduces_position", broken)
    decision = check()
    assert not decision.approved
    assert decision.codes == ["RISK_CHECK_ERROR"]


def test_unknown_equity_is_a_violation_not_a_skipped_check() -> None:
    decision = check(exposure=view(equity=0))
    assert not decision.approved
    assert "NO_EQUITY" in decision.codes


def firm(**changes: Any) -> FirmExposure:
    """The firm across venues: 1,000,000 USD of equity, this order's currency at 1:1."""
    values: dict[str, Any] = {
        "base_currency": "USD",
        "equity": Decimal(1_000_000),
        "order_rate": Decimal(1),
        "accounts": ("DU123", "kraken"),
    }
    return FirmExposure.model_validate({**values, **changes})


def test_firm_gross_exposure_counts_the_other_venues_books() -> None:
    # The account alone is far from its cap; the firm holds 999,000 elsewhere: a 1,000 buy
    # reaches 100 % of the firm's equity, a cent more does not.
    under = check(exposure=view(firm=firm(gross_exposure=999_000)))
    over = check(exposure=view(firm=firm(gross_exposure="999000.01")))
    assert_just_under_passes_just_over_fails(under, over, "FIRM_GROSS_EXPOSURE_LIMIT")


def test_firm_exposure_converts_the_order_at_its_rate() -> None:
    # 1,000 EUR at 1.10 is 1,100 USD: over when only 1,099 of room is left.
    room = firm(gross_exposure=998_901, net_exposure=0, order_rate="1.10")
    assert check(exposure=view(firm=room)).codes == ["FIRM_GROSS_EXPOSURE_LIMIT"]
    assert check(exposure=view(firm=firm(gross_exposure=998_900, order_rate="1.10"))).approved


def test_a_firm_view_with_a_problem_refuses_new_exposure_but_not_a_reduction() -> None:
    stale = firm(problems=(Violation(code="FX_RATE_STALE", message="EUR->USD is 90s old"),))
    refused = check(exposure=view(firm=stale))
    assert refused.codes == ["FX_RATE_STALE"]
    assert "firm risk view" in refused.violations[0].message
    holding = view(position_quantity=Decimal(20), firm=stale)
    assert check(order(side=Side.SELL, quantity="5"), holding).approved


def test_a_firm_without_equity_refuses() -> None:
    assert check(exposure=view(firm=firm(equity=0))).codes == ["FIRM_NO_EQUITY"]


def test_no_firm_view_means_the_account_is_the_firm() -> None:
    assert check(exposure=view(firm=None)).approved
