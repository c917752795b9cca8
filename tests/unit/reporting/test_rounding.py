"""The edge rounding policy: money to its currency, prices to their tick, percentages to six."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading_core.domain.precision import (
    currency_places,
    format_money,
    round_money,
    round_to_places,
)
from trading_core.reporting.rounding import quote_currency, round_payload

TICKS = {"BTC/USD": Decimal("0.1"), "EUR/USD": Decimal("0.00001"), "ETH/BTC": Decimal("0.00001")}


def tick_of(symbol: str) -> Decimal | None:
    return TICKS.get(symbol)


def test_the_issues_equity_shows_cents() -> None:
    summary = {"currency": "USD", "equity": "98921.250387870122887271490", "open_orders": 3}
    assert round_payload(summary, currency="USD") == {
        "currency": "USD",
        "equity": "98921.25",
        "open_orders": 3,
    }


def test_money_inside_an_instrument_takes_its_quote_currency() -> None:
    payload = {
        "currency": "USD",
        "positions": [
            {"symbol": "ETH/BTC", "realized_pnl": "0.0034919456227003654444", "quantity": "2.5"},
            {"symbol": "BTC/USD", "realized_pnl": "0.058957976220", "quantity": "0.0081234567891"},
        ],
    }
    rounded = round_payload(payload, currency="USD", tick_of=tick_of)
    eth, btc = rounded["positions"]
    assert eth["realized_pnl"] == "0.00349195"  # BTC: satoshis
    assert btc["realized_pnl"] == "0.06"  # USD: cents
    assert btc["quantity"] == "0.0081234567891"  # quantities are exact


@pytest.mark.parametrize(
    ("symbol", "price", "expected"),
    [
        ("BTC/USD", "39550.342743872", "39550.34"),  # tick 0.1, but never fewer than cents
        ("EUR/USD", "1.0876543219", "1.08765"),  # tick 0.00001: two places would flatten it
        ("ETH/BTC", "0.0963655717530816", "0.09636557"),  # BTC's 8 places beat the tick's 5
        ("XYZ/USD", "12.3456789012345", "12.34567890"),  # unknown tick: satoshi detail
        ("BTC/USD", "39550.3", "39550.3"),  # already short: the same spelling
    ],
)
def test_prices_keep_the_places_of_their_tick_or_currency(
    symbol: str, price: str, expected: str
) -> None:
    fill = {"symbol": symbol, "price": price, "average_fill_price": price}
    rounded = round_payload(fill, currency="USD", tick_of=tick_of)
    assert rounded["price"] == rounded["average_fill_price"] == expected


def test_percentages_and_ratios_keep_six_places() -> None:
    exposure = {
        "gross_exposure_pct": "0.7599376356554008330277783734",
        "leverage": "0.007599376356554008330277783734",
        "drawdown_pct": "0.00041262009587519800",
    }
    assert round_payload(exposure, currency="USD") == {
        "gross_exposure_pct": "0.759938",
        "leverage": "0.007599",
        "drawdown_pct": "0.000413",
    }


def test_money_maps_and_decimals_round_in_their_own_form() -> None:
    payload = {"by_symbol": {"BTC/USD": Decimal("316.98081")}, "cash": Decimal("0.004")}
    rounded = round_payload(payload, currency="USD")
    assert rounded == {"by_symbol": {"BTC/USD": Decimal("316.98")}, "cash": Decimal(0)}
    assert isinstance(rounded["cash"], Decimal)
    assert str(rounded["cash"]) == "0"  # never 0E-2 or -0.00


def test_what_the_policy_does_not_name_is_left_alone() -> None:
    payload = {
        "sharpe": 1.2345678901234567,  # a float statistic
        "value": "1.23456789012345",  # not a named field
        "price": "n/a",  # not a number
        "equity": None,
        "confidence": 0.95,
    }
    assert round_payload(payload, currency="USD") == payload


def test_rounding_is_half_to_even_and_idempotent() -> None:
    assert round_payload({"cash": "0.125"}, currency="USD") == {"cash": "0.12"}
    assert round_payload({"cash": "0.135"}, currency="USD") == {"cash": "0.14"}
    once = round_payload({"equity": "98921.255000001"}, currency="USD")
    assert once == {"equity": "98921.26"}
    assert round_payload(once, currency="USD") == once


def test_currency_places_and_formatting() -> None:
    assert currency_places("usd") == 2
    assert currency_places("JPY") == 0
    assert currency_places("BTC") == 8
    assert currency_places("DOGE") == 8  # unknown: crypto-like detail
    assert round_money(Decimal("1234.5"), "JPY") == Decimal("1234")  # half to even
    assert round_to_places(Decimal("123456789012345678901234567890.123"), 2) == Decimal(
        "123456789012345678901234567890.12"
    )  # more digits than the default context holds
    assert format_money(Decimal("100000"), "USD") == "100000.00"
    assert format_money(Decimal("9.123456789"), "BTC") == "9.12345679"
    assert quote_currency("ETH/BTC") == "BTC"
    assert quote_currency("GOOG") is None
