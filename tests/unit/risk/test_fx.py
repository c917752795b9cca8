"""Currency conversion from quotes: direct, inverted and crossed rates, refused when stale or
missing (never a silent 1 or 0)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading_core.risk.fx import (
    FX_RATE_MISSING,
    FX_RATE_STALE,
    FxQuote,
    FxRates,
    FxUnavailable,
    pair_currencies,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
MAX_AGE = timedelta(seconds=60)


def fx(symbol: str, mid: str, age_seconds: float = 0) -> FxQuote:
    made = FxQuote.of(symbol, Decimal(mid), NOW - timedelta(seconds=age_seconds))
    assert made is not None
    return made


def rates(*quotes: FxQuote) -> FxRates:
    return FxRates(quotes, now=NOW, max_age=MAX_AGE)


def test_a_pair_symbol_names_its_two_currencies_and_a_stock_none() -> None:
    assert pair_currencies("EUR/USD") == ("EUR", "USD")
    assert pair_currencies("ada/btc") == ("ADA", "BTC")
    assert pair_currencies("GOOG") is None
    assert pair_currencies("A/B/C") is None
    assert FxQuote.of("GOOG", Decimal(1), NOW) is None


def test_direct_inverse_and_identity() -> None:
    book = rates(fx("EUR/USD", "1.25"))
    assert book.rate("EUR", "USD") == Decimal("1.25")
    assert book.rate("USD", "EUR") == Decimal("0.8")
    assert book.rate("usd", "USD") == 1


def test_a_cross_goes_through_one_other_currency() -> None:
    book = rates(fx("ADA/BTC", "0.00001"), fx("BTC/USD", "40000"))
    assert book.rate("ADA", "USD") == Decimal("0.4")
    assert book.rate("USD", "ADA") == Decimal("2.5")


def test_no_linking_quote_is_missing_not_zero() -> None:
    with pytest.raises(FxUnavailable) as caught:
        rates(fx("BTC/USD", "40000")).rate("EUR", "USD")
    assert caught.value.code == FX_RATE_MISSING


def test_a_rate_older_than_the_limit_is_refused_with_its_age() -> None:
    book = rates(fx("EUR/USD", "1.1", age_seconds=61))
    with pytest.raises(FxUnavailable, match="61s old") as caught:
        book.rate("EUR", "USD")
    assert caught.value.code == FX_RATE_STALE
    assert rates(fx("EUR/USD", "1.1", age_seconds=60)).rate("EUR", "USD") == Decimal("1.1")


def test_a_cross_is_as_old_as_its_older_leg() -> None:
    book = rates(fx("ADA/BTC", "0.00001"), fx("BTC/USD", "40000", age_seconds=90))
    with pytest.raises(FxUnavailable) as caught:
        book.rate("ADA", "USD")
    assert caught.value.code == FX_RATE_STALE


def test_a_fresh_cross_stands_in_for_a_stale_direct_quote() -> None:
    book = rates(
        fx("ETH/USD", "2000", age_seconds=300),
        fx("ETH/BTC", "0.05"),
        fx("BTC/USD", "41000"),
    )
    assert book.rate("ETH", "USD") == Decimal("2050.00")


def test_the_newest_quote_of_a_pair_wins() -> None:
    book = rates(fx("EUR/USD", "1.10", age_seconds=30), fx("EUR/USD", "1.20", age_seconds=5))
    assert book.rate("EUR", "USD") == Decimal("1.20")
