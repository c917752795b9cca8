"""Quotes around a price: outward rounding, precision and degenerate spreads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from trading_core.marketdata.quotes import quote_around

AT = datetime(2024, 1, 1, tzinfo=UTC)


def _quote(price: str, spread_bps: str, tick: str | None = None) -> tuple[Decimal, Decimal]:
    quote = quote_around(
        symbol="X",
        price=Decimal(price),
        spread_bps=Decimal(spread_bps),
        timestamp=AT,
        source="test",
        tick=Decimal(tick) if tick is not None else None,
    )
    assert quote.last == Decimal(price)
    return quote.bid, quote.ask


def test_half_the_spread_goes_on_each_side() -> None:
    assert _quote("100", "10") == (Decimal("99.950000"), Decimal("100.05000"))


def test_tiny_prices_keep_eight_significant_digits() -> None:
    # 0.0000533 +/- 0.0000533 * 5 / 20000 = +/- 0.0000000133250
    assert _quote("0.00005330000000000001", "5") == (
        Decimal("0.000053286675"),
        Decimal("0.000053313326"),
    )


def test_rounding_to_a_tick_never_narrows_the_spread() -> None:
    bid, ask = _quote("101.23", "1", tick="0.05")

    assert (bid, ask) == (Decimal("101.20"), Decimal("101.25"))
    assert ask - bid >= Decimal("101.23") * Decimal("0.0001")


def test_zero_spread_quotes_bid_equal_to_ask() -> None:
    assert _quote("1.07219", "0") == (Decimal("1.0721900"), Decimal("1.0721900"))


def test_a_spread_wider_than_the_price_keeps_the_bid_positive() -> None:
    bid, ask = _quote("1", "30000")

    assert bid == Decimal("0.0000001")  # one step of 8 significant digits of 1
    assert ask == Decimal("2.5000000")


def test_negative_spread_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        _quote("1", "-1")
