"""Prometheus metrics of the trading system, on a registry of their own.

Each :class:`Metrics` owns a ``CollectorRegistry`` (never the process-global one), so two
instances - two tests, or a backtest next to the live loop - never collide. Decimals become
floats here and nowhere else.
"""

from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

from trading_core.domain.state import TradingState

TRADING_STATE_VALUES: Final = {
    TradingState.ACTIVE: 0,
    TradingState.REDUCING: 1,
    TradingState.HALTED: 2,
    TradingState.KILLED: 3,
}
_SERVER_STOP_TIMEOUT_SECONDS: Final = 5.0
ORDER_LATENCY_BUCKETS: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""From a paper fill (well under a millisecond) to a slow venue (seconds)."""


class MetricsServer:
    """A running ``/metrics`` HTTP endpoint; ``close()`` stops it and frees the port."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for)."""
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=_SERVER_STOP_TIMEOUT_SECONDS)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class Metrics:
    """Counters and gauges the orchestrator, risk engine and feeds update as they work."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # (id of the metric, label value) -> its child: labels() is looked up on every bar.
        self._children: dict[tuple[int, str], Any] = {}
        r = self.registry
        self._decisions = Counter(
            "trading_decisions", "Decisions taken, by type.", ["decision_type"], registry=r
        )
        self._orders = Counter(
            "trading_orders", "Order status changes, by new status.", ["status"], registry=r
        )
        self._fills = Counter("trading_fills", "Fills received.", registry=r)
        self._bars = Counter(
            "trading_bars_processed", "Bars through the pipeline.", ["symbol"], registry=r
        )
        self._equity = Gauge("trading_equity", "Portfolio equity, marked to market.", registry=r)
        self._cash = Gauge("trading_cash", "Cash balance.", registry=r)
        self._drawdown = Gauge(
            "trading_drawdown_ratio",
            "Drawdown from the high-water mark, as a fraction (0.05 is 5 %).",
            registry=r,
        )
        self._daily_pnl = Gauge(
            "trading_daily_pnl_ratio",
            "P&L since start-of-day equity, as a signed fraction (-0.02 is -2 %).",
            registry=r,
        )
        self._state = Gauge(
            "trading_state", "Trading state: 0 ACTIVE, 1 REDUCING, 2 HALTED, 3 KILLED.", registry=r
        )
        self._risk_rejections = Counter(
            "risk_rejections", "Orders refused by the risk engine, by code.", ["code"], registry=r
        )
        self._feed_last_update = Gauge(
            "data_feed_last_update_timestamp_seconds",
            "Unix time of the last market data received, by symbol.",
            ["symbol"],
            registry=r,
        )
        self._broker_connected = Gauge(
            "trading_broker_connected",
            "1 while the broker answers (the paper broker always), 0 once it stopped answering.",
            ["broker"],
            registry=r,
        )
        self._order_latency = Histogram(
            "trading_order_latency_seconds",
            "From an order leaving the order service to the broker's answer.",
            ["broker"],
            buckets=ORDER_LATENCY_BUCKETS,
            registry=r,
        )
        self._model_ece = Gauge(
            "trading_model_calibration_error",
            "The signal model's out-of-sample expected calibration error (its card's), by model.",
            ["model"],
            registry=r,
        )
        self._bus_dropped = Counter(
            "bus_messages_dropped", "Bus messages dropped for slow subscribers.", registry=r
        )

    def record_decision(self, decision_type: str) -> None:
        """Count one decision (``DecisionType`` values: entry, exit, hold, skip, ...)."""
        self._child(self._decisions, str(decision_type)).inc()

    def record_order(self, status: str) -> None:
        """Count an order reaching ``status`` (``OrderStatus`` values)."""
        self._child(self._orders, str(status)).inc()

    def record_fill(self) -> None:
        self._fills.inc()

    def record_bar(self, symbol: str) -> None:
        self._child(self._bars, symbol).inc()

    def set_equity(self, value: Decimal) -> None:
        self._equity.set(float(value))

    def set_cash(self, value: Decimal) -> None:
        self._cash.set(float(value))

    def set_drawdown_ratio(self, value: Decimal) -> None:
        """Drawdown as a fraction (``Portfolio.drawdown_pct / 100``: 0.05 means 5 %)."""
        self._drawdown.set(float(value))

    def set_daily_pnl_ratio(self, value: Decimal) -> None:
        """Daily P&L as a signed fraction (``Portfolio.daily_pnl_pct / 100``)."""
        self._daily_pnl.set(float(value))

    def set_broker_connected(self, broker: str, connected: bool) -> None:
        self._broker_connected.labels(broker=broker).set(1 if connected else 0)

    def set_model_calibration_error(self, model: str, ece: float) -> None:
        """The ECE the model's card measured out of sample (the gate refuses it above its limit)."""
        self._model_ece.labels(model=model).set(ece)

    def observe_order_latency(self, broker: str, seconds: float) -> None:
        """One order's round trip to ``broker`` (wall time, measured by the order service)."""
        self._order_latency.labels(broker=broker).observe(max(0.0, seconds))

    def set_trading_state(self, state: TradingState) -> None:
        self._state.set(TRADING_STATE_VALUES[state])

    def record_risk_rejection(self, code: str) -> None:
        self._risk_rejections.labels(code=code).inc()

    def set_data_feed_last_update(self, symbol: str, at: datetime) -> None:
        """Mark market data for ``symbol`` as received at ``at`` (timezone-aware)."""
        if at.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        self._child(self._feed_last_update, symbol).set(at.timestamp())

    def record_bus_drops(self, count: int = 1) -> None:
        """Count bus messages dropped; pass ``metrics.record_bus_drops`` as a bus ``on_drop``."""
        if count < 0:
            raise ValueError(f"dropped message count cannot be negative: {count}")
        self._bus_dropped.inc(count)

    def _child(self, metric: Any, label: str) -> Any:
        """``metric.labels(label)`` for a one-label metric, looked up once per label value."""
        key = (id(metric), label)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(label)
        return child

    def render(self) -> bytes:
        """This registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "127.0.0.1") -> MetricsServer:
        """Serve this registry over HTTP on ``host:port`` in a daemon thread; port 0 picks one."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        return MetricsServer(server, thread)
