"""The firm view: accounts on several venues summed in one currency, and every gap in it
(an account unpublished or stale, a mark or a rate missing or stale) named as a problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading_core.risk.firm import (
    FIRM_ACCOUNT_MISSING,
    FIRM_ACCOUNT_STALE,
    FIRM_MARK_MISSING,
    FIRM_MARK_STALE,
    AccountSnapshot,
    FirmExposure,
    FirmLimits,
    HeldPosition,
    firm_exposure,
)
from trading_core.risk.fx import FX_RATE_MISSING, FX_RATE_STALE, FxQuote, FxRates

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LIMITS = FirmLimits(max_account_age=timedelta(seconds=60), max_mark_age=timedelta(seconds=300))


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def held(
    symbol: str, currency: str, quantity: str, mark: str | None, age: float = 0
) -> HeldPosition:
    return HeldPosition(
        symbol=symbol,
        currency=currency,
        quantity=Decimal(quantity),
        mark=None if mark is None else Decimal(mark),
        marked_at=None if mark is None else ago(age),
    )


def ib(*positions: HeldPosition, age: float = 0, cash: str = "50000") -> AccountSnapshot:
    return AccountSnapshot(
        account="DU123",
        currency="USD",
        cash=Decimal(cash),
        positions=positions,
        as_of=ago(age),
        open_buys={"USD": Decimal("1000")},
    )


def kraken(*positions: HeldPosition, cash: str = "10000", currency: str = "EUR") -> AccountSnapshot:
    return AccountSnapshot(
        account="kraken", currency=currency, cash=Decimal(cash), positions=positions, as_of=NOW
    )


def fx(*pairs: tuple[str, str, float]) -> FxRates:
    quotes = [FxQuote.of(s, Decimal(m), ago(a)) for s, m, a in pairs]
    return FxRates([q for q in quotes if q is not None], now=NOW, max_age=timedelta(seconds=60))


def view(
    snapshots: dict[str, AccountSnapshot | None], rates: FxRates, order_currency: str = "USD"
) -> FirmExposure:
    return firm_exposure(
        snapshots,
        base_currency="USD",
        order_currency=order_currency,
        fx=rates,
        now=NOW,
        limits=LIMITS,
    )


def test_two_venues_sum_in_the_base_currency() -> None:
    firm = view(
        {
            "DU123": ib(held("GOOG", "USD", "100", "150")),
            "kraken": kraken(
                held("BTC/EUR", "EUR", "0.5", "40000"), held("ETH/EUR", "EUR", "-2", "2000")
            ),
        },
        fx(("EUR/USD", "1.10", 5)),
        order_currency="EUR",
    )
    assert firm.problems == ()
    # IB: 50,000 cash + 15,000 GOOG. Kraken (EUR at 1.10): 10,000 cash, +20,000 BTC, -4,000 ETH.
    assert firm.equity == Decimal("50000") + Decimal("15000") + Decimal("1.10") * (
        10000 + 20000 - 4000
    )
    assert firm.gross_exposure == Decimal("15000") + Decimal("1.10") * (20000 + 4000)
    assert firm.net_exposure == Decimal("15000") + Decimal("1.10") * (20000 - 4000)
    assert firm.open_buy_notional == Decimal("1000")
    assert firm.order_rate == Decimal("1.10")
    assert firm.accounts == ("DU123", "kraken")


def test_a_btc_account_is_valued_through_its_own_pair_marks() -> None:
    # Cash in BTC and an ADA/BTC position: BTC->USD from a BTC/USD quote, ADA's value in BTC.
    snapshot = kraken(held("ADA/BTC", "BTC", "1000", "0.00001"), cash="1", currency="BTC")
    firm = view({"kraken": snapshot}, fx(("BTC/USD", "40000", 0)))
    assert firm.problems == ()
    assert firm.equity == Decimal("40000") + Decimal("400")


@pytest.mark.parametrize(
    ("snapshots", "rates", "code"),
    [
        ({"DU123": None}, fx(), FIRM_ACCOUNT_MISSING),
        ({"DU123": ib(age=61)}, fx(), FIRM_ACCOUNT_STALE),
        ({"DU123": ib(held("GOOG", "USD", "1", None))}, fx(), FIRM_MARK_MISSING),
        ({"DU123": ib(held("GOOG", "USD", "1", "150", age=301))}, fx(), FIRM_MARK_STALE),
        ({"kraken": kraken()}, fx(), FX_RATE_MISSING),
        ({"kraken": kraken()}, fx(("EUR/USD", "1.1", 61)), FX_RATE_STALE),
    ],
)
def test_every_gap_is_a_problem_with_its_code(
    snapshots: dict[str, AccountSnapshot | None], rates: FxRates, code: str
) -> None:
    firm = view(snapshots, rates)
    assert code in [p.code for p in firm.problems]


def test_a_flat_position_needs_no_mark_and_the_limits_are_inclusive() -> None:
    firm = view(
        {
            "DU123": ib(
                held("GOOG", "USD", "0", None), held("MSFT", "USD", "1", "400", age=300), age=60
            )
        },
        fx(),
    )
    assert firm.problems == ()
    assert firm.gross_exposure == Decimal("400")


def test_an_order_in_a_currency_without_a_rate_is_a_problem_even_when_the_books_are_whole() -> None:
    firm = view({"DU123": ib()}, fx(), order_currency="JPY")
    assert [p.code for p in firm.problems] == [FX_RATE_MISSING]
    assert firm.order_rate is None


def test_a_snapshot_round_trips_through_the_store_json() -> None:
    snapshot = ib(held("GOOG", "USD", "100", "150.25"), held("AAPL", "USD", "3", None))
    assert AccountSnapshot.from_state(snapshot.to_state()) == snapshot


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"version": 99},
        {**ib().to_state(), "cash": "lots"},
        {**ib().to_state(), "as_of": "2026-12-04T12:00:00"},
    ],
)
def test_a_malformed_snapshot_is_refused(broken: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"snapshot|zone"):
        AccountSnapshot.from_state(broken)
