"""Run events as InfluxDB points: what each measurement carries, and no point replacing another."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry

from trading_core.adapters.influx import InfluxWriter, Point, encode
from trading_core.domain.errors import ConfigurationError
from trading_core.domain.fill import Fill
from trading_core.domain.order import Side
from trading_core.domain.portfolio import Portfolio
from trading_core.orchestrator.influx_recorder import InfluxRecorder, equity_point
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings

AT = datetime(2024, 1, 1, 12, tzinfo=UTC)


class _Kept(InfluxWriter):
    """The writer's queue without a server: what would be sent."""

    def __init__(self) -> None:
        super().__init__(
            url="http://unused", org="o", bucket="b", token=None, registry=CollectorRegistry()
        )
        self.points: list[Point] = []

    def write(self, point: Point) -> None:
        self.points.append(point)


def _fill(fill_id: str) -> Fill:
    return Fill(
        fill_id=fill_id,
        order_id="o1",
        client_order_id="c1",
        symbol="BTC/USD",
        side=Side.BUY,
        quantity=Decimal("0.5"),
        price=Decimal("40000.25"),
        commission=Decimal("2.0001"),
        timestamp=AT,
    )


def test_two_fills_at_one_instant_are_two_points() -> None:
    kept = _Kept()
    recorder = InfluxRecorder(kept)
    recorder.on_fill(_fill("f1"))
    recorder.on_fill(_fill("f2"))
    first, second = kept.points
    assert first.time == AT
    assert second.time == AT + timedelta(microseconds=1)
    assert first.tags == {"symbol": "BTC/USD", "side": "buy", "account": "paper"}
    assert encode(first).split(" ")[1] == ('quantity=0.5,price=40000.25,fee=2.0001,fill_id="f1"')


def test_equity_ratios_are_fractions_like_the_gauges() -> None:
    portfolio = Portfolio.start(Decimal(100_000), base_currency="USD").model_copy(
        update={"high_water_mark": Decimal(125_000)}
    )
    point = equity_point(portfolio, account="paper", at=AT)
    assert point.fields["drawdown_ratio"] == Decimal("0.2")
    assert point.fields["equity"] == Decimal(100_000)


def test_a_buffer_smaller_than_a_batch_is_refused_at_start() -> None:
    with pytest.raises(ConfigurationError, match="buffer_points"):
        load_settings(config_dir=PACKAGED_CONFIG_DIR, influx={"batch_size": 10, "buffer_points": 5})
    assert load_settings(config_dir=PACKAGED_CONFIG_DIR).influx.url is None  # off by default
