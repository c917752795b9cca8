"""Builders for domain unit tests: valid defaults, override only what a test is about."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from trading_core.domain.fill import Fill
from trading_core.domain.order import Order, OrderType, Side

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)

OrderFactory = Callable[..., Order]
FillFactory = Callable[..., Fill]


@pytest.fixture
def make_order() -> OrderFactory:
    """A PENDING limit buy of 10 XYZ at 100 unless overridden."""

    def build(**overrides: Any) -> Order:
        fields: dict[str, Any] = {
            "order_id": "ord-1",
            "client_order_id": "cli-1",
            "symbol": "XYZ",
            "side": Side.BUY,
            "quantity": Decimal("10"),
            "order_type": OrderType.LIMIT,
            "limit_price": Decimal("100"),
            "created_at": T0,
            "updated_at": T0,
        }
        fields.update(overrides)
        return Order(**fields)

    return build


@pytest.fixture
def make_fill() -> FillFactory:
    """A fill in XYZ; pass side, quantity and price (commission defaults to zero)."""
    counter = iter(range(1, 1_000_000))

    def build(side: Side, quantity: str, price: str, **overrides: Any) -> Fill:
        fields: dict[str, Any] = {
            "fill_id": f"fill-{next(counter)}",
            "order_id": "ord-1",
            "client_order_id": "cli-1",
            "symbol": "XYZ",
            "side": side,
            "quantity": Decimal(quantity),
            "price": Decimal(price),
            "timestamp": T0,
        }
        fields.update(overrides)
        return Fill(**fields)

    return build
