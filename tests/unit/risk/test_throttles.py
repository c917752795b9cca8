"""Flow throttles: sliding windows fed with timestamps, queries separate from recording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from trading_core.domain.fill import Fill
from trading_core.domain.order import OrderType, Side
from trading_core.risk.pretrade import OrderRequest
from trading_core.risk.risk_config import RiskLimits
from trading_core.risk.throttles import (
    DailyOrderCounter,
    DuplicateDetector,
    PreTradeThrottles,
    RepeatedExecutionMonitor,
    RollingNotional,
    SlidingWindow,
    SubmitThrottle,
    content_hash,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def request(client_order_id: str = "c-1", quantity: str = "10", limit: str = "100") -> OrderRequest:
    return OrderRequest(
        symbol="BTC/USD",
        side=Side.BUY,
        quantity=Decimal(quantity),
        limit_price=Decimal(limit),
        client_order_id=client_order_id,
        strategy_id="s1",
    )


def fill(number: int, when: datetime, strategy_id: str = "s1") -> Fill:
    return Fill(
        fill_id=f"f-{strategy_id}-{number}",
        order_id="o-1",
        client_order_id="c-1",
        symbol="BTC/USD",
        side=Side.BUY,
        quantity=Decimal(1),
        price=Decimal(100),
        timestamp=when,
        strategy_id=strategy_id,
    )


def test_fifth_order_in_a_second_is_allowed_and_the_sixth_denied() -> None:
    throttle = SubmitThrottle(per_second=5, per_minute=60)
    for _ in range(4):
        throttle.record(T0)
    assert throttle.would_allow(T0)
    throttle.record(T0)
    assert not throttle.would_allow(at(0.999))
    assert throttle.would_allow(at(1))  # the window slid past the burst


def test_a_denied_order_is_not_queued_so_it_uses_no_budget() -> None:
    throttle = SubmitThrottle(per_second=5, per_minute=60)
    for _ in range(5):
        throttle.record(T0)
    for _ in range(100):
        assert not throttle.would_allow(T0)
    assert throttle.counts(T0) == (5, 5)
    assert throttle.counts(at(1)) == (0, 5)


def test_sixty_orders_a_minute_fill_the_minute_window_until_the_first_ages_out() -> None:
    throttle = SubmitThrottle(per_second=5, per_minute=60)
    for second in range(59):
        throttle.record(at(second))
    assert throttle.would_allow(at(59))
    throttle.record(at(59))
    assert not throttle.would_allow(at(59.999))
    assert throttle.would_allow(at(60))


def test_rolling_notional_passes_at_a_quarter_of_equity_and_fails_a_cent_above() -> None:
    window = RollingNotional(Decimal(25))
    window.record(T0, Decimal(20_000))
    equity = Decimal(100_000)
    assert window.would_allow(at(299), Decimal(5_000), equity)
    assert not window.would_allow(at(299), Decimal("5000.01"), equity)
    assert window.would_allow(at(300), Decimal(25_000), equity)
    assert not window.would_allow(at(300), Decimal(1), Decimal(0))


def test_same_content_within_ten_seconds_is_a_duplicate_whatever_its_client_id() -> None:
    detector = DuplicateDetector()
    detector.record(T0, content_hash(request("c-1")))
    assert not detector.would_allow(at(9.999), content_hash(request("c-2")))
    assert detector.would_allow(at(10), content_hash(request("c-2")))
    assert detector.would_allow(at(1), content_hash(request("c-3", quantity="11")))


def test_content_hash_treats_equal_decimals_as_equal_and_differs_on_type() -> None:
    assert content_hash(request(quantity="10", limit="100")) == content_hash(
        request(quantity="10.000", limit="100.00")
    )
    as_stop_limit = request().model_copy(
        update={"order_type": OrderType.STOP_LIMIT, "stop_price": Decimal(99)}
    )
    assert content_hash(as_stop_limit) != content_hash(request())


def test_ten_fills_a_minute_are_tolerated_and_the_eleventh_latches_until_released() -> None:
    monitor = RepeatedExecutionMonitor(max_fills=10)
    latched = [monitor.record_fill(at(n), "s1", "BTC/USD") for n in range(10)]
    assert not any(latched)
    assert monitor.would_allow(at(10), "s1", "BTC/USD")
    assert monitor.record_fill(at(10), "s1", "BTC/USD") is True
    assert not monitor.would_allow(at(10), "s1", "BTC/USD")
    assert not monitor.would_allow(at(3_600), "s1", "BTC/USD")  # time alone does not unlatch
    assert monitor.would_allow(at(10), "s2", "BTC/USD")
    assert monitor.would_allow(at(10), "s1", "ETH/USD")
    monitor.release("s1", "BTC/USD")
    assert monitor.would_allow(at(11), "s1", "BTC/USD")
    assert monitor.fills_in_window(at(11), "s1", "BTC/USD") == 0


def test_fills_spread_beyond_the_window_never_latch() -> None:
    monitor = RepeatedExecutionMonitor(max_fills=10)
    assert not any(monitor.record_fill(at(7 * n), "s1", "BTC/USD") for n in range(50))
    assert monitor.latched == frozenset()


def test_the_two_hundredth_order_of_a_day_passes_and_the_next_waits_for_utc_midnight() -> None:
    counter = DailyOrderCounter(max_orders=200)
    for _ in range(199):
        counter.record(T0)
    assert counter.would_allow(T0)
    counter.record(T0)
    assert not counter.would_allow(T0.replace(hour=23, minute=59, second=59))
    assert counter.would_allow(datetime(2024, 3, 2, tzinfo=UTC))


def test_the_daily_count_follows_the_utc_day_not_the_local_one() -> None:
    counter = DailyOrderCounter(max_orders=1)
    new_york = timezone(timedelta(hours=-5))
    counter.record(datetime(2024, 3, 1, 20, 0, tzinfo=new_york))  # 2024-03-02 01:00 UTC
    assert counter.count(datetime(2024, 3, 2, 2, 0, tzinfo=UTC)) == 1
    assert counter.count(datetime(2024, 3, 1, 23, 0, tzinfo=UTC)) == 0


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SlidingWindow(timedelta(seconds=1)).add(datetime(2024, 3, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        DailyOrderCounter(1).record(datetime(2024, 3, 1))


def test_events_stamped_after_now_still_count() -> None:
    window = SlidingWindow(timedelta(seconds=1))
    window.add(at(5))
    assert window.count(at(4)) == 1


def test_snapshot_reports_what_was_recorded_and_recording_is_the_only_thing_that_changes_it() -> (
    None
):
    throttles = PreTradeThrottles(RiskLimits())
    order = request()
    empty = throttles.snapshot(order, T0)
    for _ in range(50):
        assert throttles.snapshot(order, T0) == empty
    throttles.record_submit(order, Decimal(1_000), T0)
    assert throttles.record_fill(fill(1, T0)) is False
    seen = throttles.snapshot(request("c-2"), at(0.5))
    assert seen.submits_last_second == 1
    assert seen.submits_last_minute == 1
    assert seen.window_notional == Decimal(1_000)
    assert seen.orders_today == 1
    assert seen.duplicate_of_recent is True
    assert seen.fills_in_execution_window == 1
    assert seen.repeated_execution_latched is False


def test_throttles_take_their_limits_from_the_effective_configuration() -> None:
    throttles = PreTradeThrottles(RiskLimits(max_orders_per_second=2, max_daily_orders=3))
    throttles.record_submit(request("c-1"), Decimal(1), T0)
    assert throttles.submits.would_allow(T0)
    throttles.record_submit(request("c-2", quantity="2"), Decimal(1), T0)
    assert not throttles.submits.would_allow(T0)
    throttles.record_submit(request("c-3", quantity="3"), Decimal(1), at(5))
    assert not throttles.daily.would_allow(at(5))
