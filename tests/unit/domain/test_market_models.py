"""Quote and Bar validation, and the Timeframe durations bars rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from trading_core.domain.market import Bar, Quote, Timeframe

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def _quote(**overrides: Any) -> Quote:
    fields: dict[str, Any] = {
        "symbol": "XYZ",
        "bid": Decimal("99.5"),
        "ask": Decimal("100.5"),
        "last": Decimal(100),
        "timestamp": T0,
        "source": "test",
    }
    fields.update(overrides)
    return Quote(**fields)


def _bar(open_: str, high: str, low: str, close: str, **overrides: Any) -> Bar:
    fields: dict[str, Any] = {
        "symbol": "XYZ",
        "timeframe": Timeframe.M5,
        "timestamp": T0,
        "open": Decimal(open_),
        "high": Decimal(high),
        "low": Decimal(low),
        "close": Decimal(close),
        "volume": Decimal(1000),
    }
    fields.update(overrides)
    return Bar(**fields)


def test_quote_with_bid_above_ask_is_refused() -> None:
    with pytest.raises(ValidationError, match="crossed quote"):
        _quote(bid=Decimal("100.6"), ask=Decimal("100.5"))


def test_locked_quote_with_bid_equal_ask_is_accepted() -> None:
    quote = _quote(bid=Decimal(100), ask=Decimal(100))

    assert quote.mid == Decimal(100)


def test_quote_mid_and_age() -> None:
    quote = _quote()

    assert quote.mid == Decimal(100)  # (99.5 + 100.5) / 2
    assert quote.age_seconds(T0 + timedelta(seconds=2.5)) == 2.5
    assert quote.volume == Decimal(0)


@pytest.mark.parametrize(
    "overrides",
    [{"bid": Decimal(0)}, {"ask": Decimal(-1)}, {"last": Decimal(0)}, {"volume": Decimal(-1)}],
    ids=["zero-bid", "negative-ask", "zero-last", "negative-volume"],
)
def test_quote_refuses_impossible_numbers(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _quote(**overrides)


def test_consistent_bar_is_accepted_and_knows_its_close_time() -> None:
    bar = _bar("100", "105", "98", "103")

    assert bar.close_time == T0 + timedelta(minutes=5)


def test_flat_bar_is_accepted() -> None:
    assert _bar("100", "100", "100", "100").high == Decimal(100)


@pytest.mark.parametrize(
    ("open_", "high", "low", "close"),
    [
        ("100", "105", "101", "103"),  # low above open
        ("100", "105", "99", "98"),  # low above close
        ("106", "105", "98", "103"),  # high below open
        ("100", "105", "98", "106"),  # high below close
        ("100", "98", "105", "100"),  # high and low swapped
    ],
    ids=["low>open", "low>close", "high<open", "high<close", "swapped"],
)
def test_bar_with_inconsistent_ohlc_is_refused(open_: str, high: str, low: str, close: str) -> None:
    with pytest.raises(ValidationError, match="high/low do not bracket"):
        _bar(open_, high, low, close)


def test_bar_refuses_negative_volume() -> None:
    with pytest.raises(ValidationError, match="must not be negative"):
        _bar("100", "105", "98", "103", volume=Decimal(-1))


@pytest.mark.parametrize(
    ("timeframe", "expected"),
    [
        (Timeframe.M1, timedelta(minutes=1)),
        (Timeframe.M15, timedelta(minutes=15)),
        (Timeframe.H4, timedelta(hours=4)),
        (Timeframe.D1, timedelta(days=1)),
        (Timeframe.W1, timedelta(days=7)),
        (Timeframe.MO1, timedelta(days=30)),
    ],
)
def test_timeframe_durations(timeframe: Timeframe, expected: timedelta) -> None:
    assert timeframe.duration == expected


def test_every_timeframe_has_a_duration() -> None:
    assert all(tf.duration > timedelta(0) for tf in Timeframe)
