"""Prometheus metrics: names by convention, typed updates, an isolated registry, a real scrape."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trading_core.adapters.metrics import Metrics
from trading_core.domain.order import OrderStatus
from trading_core.domain.signal import DecisionType
from trading_core.domain.state import TradingState
from trading_core.ports.metrics import MetricsSink


def _lines(metrics: Metrics) -> set[str]:
    return set(metrics.render().decode().splitlines())


def test_counters_count_by_label() -> None:
    metrics: MetricsSink = Metrics()

    metrics.record_decision(DecisionType.ENTRY)
    metrics.record_decision(DecisionType.ENTRY)
    metrics.record_decision("skip")
    metrics.record_order(OrderStatus.FILLED)
    metrics.record_fill()
    metrics.record_bar("BTC/USD")
    metrics.record_risk_rejection("MAX_NOTIONAL")
    assert isinstance(metrics, Metrics)
    metrics.record_bus_drops(3)

    lines = _lines(metrics)
    assert 'trading_decisions_total{decision_type="entry"} 2.0' in lines
    assert 'trading_decisions_total{decision_type="skip"} 1.0' in lines
    assert 'trading_orders_total{status="filled"} 1.0' in lines
    assert "trading_fills_total 1.0" in lines
    assert 'trading_bars_processed_total{symbol="BTC/USD"} 1.0' in lines
    assert 'risk_rejections_total{code="MAX_NOTIONAL"} 1.0' in lines
    assert "bus_messages_dropped_total 3.0" in lines


def test_gauges_take_decimals_and_report_their_value() -> None:
    metrics = Metrics()

    metrics.set_equity(Decimal("100250.75"))
    metrics.set_cash(Decimal("-12.5"))
    metrics.set_drawdown_ratio(Decimal("0.0525"))
    metrics.set_daily_pnl_ratio(Decimal("-0.025"))
    metrics.set_broker_connected("ib", False)
    metrics.set_broker_connected("paper", True)
    metrics.set_data_feed_last_update("ETH/USD", datetime(2024, 3, 1, tzinfo=UTC))

    lines = _lines(metrics)
    assert "trading_equity 100250.75" in lines
    assert "trading_cash -12.5" in lines
    assert "trading_drawdown_ratio 0.0525" in lines
    assert "trading_daily_pnl_ratio -0.025" in lines
    assert 'trading_broker_connected{broker="ib"} 0.0' in lines
    assert 'trading_broker_connected{broker="paper"} 1.0' in lines
    assert 'data_feed_last_update_timestamp_seconds{symbol="ETH/USD"} 1.7092512e+09' in lines


def test_the_models_calibration_error_is_a_gauge_per_model() -> None:
    metrics = Metrics()
    metrics.set_model_calibration_error("direction-v3", 0.0694)
    assert 'trading_model_calibration_error{model="direction-v3"} 0.0694' in _lines(metrics)


def test_order_latency_is_a_histogram_in_seconds_per_broker() -> None:
    metrics = Metrics()

    metrics.observe_order_latency("kraken", 0.3)
    metrics.observe_order_latency("kraken", 4.0)
    metrics.observe_order_latency("paper", -1e-9)  # a clock step back is not negative latency

    lines = _lines(metrics)
    assert 'trading_order_latency_seconds_count{broker="kraken"} 2.0' in lines
    assert 'trading_order_latency_seconds_sum{broker="kraken"} 4.3' in lines
    assert 'trading_order_latency_seconds_bucket{broker="kraken",le="0.5"} 1.0' in lines
    assert 'trading_order_latency_seconds_bucket{broker="kraken",le="5.0"} 2.0' in lines
    assert 'trading_order_latency_seconds_bucket{broker="paper",le="0.0005"} 1.0' in lines


@pytest.mark.parametrize(
    ("state", "value"),
    [
        (TradingState.ACTIVE, "0.0"),
        (TradingState.REDUCING, "1.0"),
        (TradingState.HALTED, "2.0"),
        (TradingState.KILLED, "3.0"),
    ],
)
def test_trading_state_is_exported_as_its_number(state: TradingState, value: str) -> None:
    metrics = Metrics()

    metrics.set_trading_state(state)

    assert f"trading_state {value}" in _lines(metrics)


def test_two_instances_do_not_share_or_clash_over_metrics() -> None:
    first, second = Metrics(), Metrics()

    first.record_fill()

    assert "trading_fills_total 1.0" in _lines(first)
    assert "trading_fills_total 0.0" in _lines(second)


def test_naive_feed_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Metrics().set_data_feed_last_update("BTC/USD", datetime(2024, 3, 1))


def test_negative_drop_count_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        Metrics().record_bus_drops(-1)


def test_served_endpoint_exposes_this_registry_and_closes() -> None:
    metrics = Metrics()
    metrics.record_decision(DecisionType.EXIT)
    metrics.set_equity(Decimal("99000"))

    server = metrics.serve(0)
    try:
        assert server.port > 0
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            status = response.status
            body = response.read().decode()
    finally:
        server.close()

    assert status == 200
    assert 'trading_decisions_total{decision_type="exit"} 1.0' in body
    assert "trading_equity 99000.0" in body
    assert "# TYPE trading_state gauge" in body
    # Only this instance's registry: no process/platform collectors from the global one.
    assert "process_cpu_seconds_total" not in body
    with pytest.raises(urllib.error.URLError), urllib.request.urlopen(url, timeout=1):
        pass
