"""Builders for paper broker tests: a simulated clock, quotes and orders with readable defaults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.market import Quote
from trading_core.domain.order import Order, OrderType, Side, TimeInForce
from trading_core.execution.paper_broker import PaperBroker

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)

BrokerFactory = Callable[..., PaperBroker]
QuoteFactory = Callable[..., Quote]
OrderFactory = Callable[..., Order]


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


@pytest.fixture
def make_broker(clock: SimulatedClock) -> BrokerFactory:
    """A paper broker with no slippage (so prices are hand-checkable) unless overridden."""

    def build(**overrides: Any) -> PaperBroker:
        settings: dict[str, Any] = {"slippage_bps": Decimal(0)}
        settings.update(overrides)
        return PaperBroker(clock, **settings)

    return build


@pytest.fixture
def make_quote(clock: SimulatedClock) -> QuoteFactory:
    """A quote stamped with the clock's current time; ``volume`` 0 means unknown volume."""

    def build(bid: str, ask: str, volume: str = "0", **overrides: Any) -> Quote:
        fields: dict[str, Any] = {
            "symbol": "XYZ",
            "bid": Decimal(bid),
            "ask": Decimal(ask),
            "last": (Decimal(bid) + Decimal(ask)) / 2,
            "volume": Decimal(volume),
            "timestamp": clock.now(),
            "source": "test",
        }
        fields.update(overrides)
        return Quote(**fields)

    return build


@pytest.fixture
def make_order(clock: SimulatedClock) -> OrderFactory:
    """A PENDING order with fresh ids (ord-1/cli-1, ord-2/cli-2, ...): market unless ``limit``."""
    counter = iter(range(1, 1_000_000))

    def build(
        side: Side,
        quantity: str,
        limit: str | None = None,
        tif: TimeInForce = TimeInForce.GTC,
        **overrides: Any,
    ) -> Order:
        n = next(counter)
        fields: dict[str, Any] = {
            "order_id": f"ord-{n}",
            "client_order_id": f"cli-{n}",
            "symbol": "XYZ",
            "side": side,
            "quantity": Decimal(quantity),
            "order_type": OrderType.MARKET if limit is None else OrderType.LIMIT,
            "limit_price": None if limit is None else Decimal(limit),
            "time_in_force": tif,
            "strategy_id": "test-strategy",
            "created_at": clock.now(),
            "updated_at": clock.now(),
        }
        fields.update(overrides)
        return Order(**fields)

    return build
