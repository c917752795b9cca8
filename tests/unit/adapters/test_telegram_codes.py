"""One-time approval codes: single use, short-lived, bound to one approval and one person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.adapters.telegram.codes import OneTimeCodes, Redeemed

START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
LATER = START + timedelta(hours=1)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def codes(clock: SimulatedClock) -> OneTimeCodes:
    return OneTimeCodes(clock, ttl=timedelta(minutes=5), attempts=3)


def test_the_right_code_works_once(codes: OneTimeCodes) -> None:
    code, _ = codes.issue("apr_1", 7, not_after=LATER)

    assert codes.redeem("apr_1", 7, code) == (Redeemed.OK, 0)
    assert codes.redeem("apr_1", 7, code) == (Redeemed.NONE, 0)


def test_a_code_is_six_digits_and_not_the_same_each_time(codes: OneTimeCodes) -> None:
    issued = {codes.issue(f"apr_{n}", 7, not_after=LATER)[0] for n in range(20)}

    assert all(len(c) == 6 and c.isdigit() for c in issued)
    assert len(issued) > 15


def test_a_code_is_bound_to_its_approval_and_its_person(codes: OneTimeCodes) -> None:
    code, _ = codes.issue("apr_1", 7, not_after=LATER)

    assert codes.redeem("apr_1", 8, code)[0] is Redeemed.NONE
    assert codes.redeem("apr_2", 7, code)[0] is Redeemed.NONE
    assert codes.redeem("apr_1", 7, code)[0] is Redeemed.OK


def test_a_code_expires_with_its_lifetime_or_its_approval_whichever_is_first(
    codes: OneTimeCodes, clock: SimulatedClock
) -> None:
    short, short_until = codes.issue("apr_1", 7, not_after=START + timedelta(minutes=1))
    long, long_until = codes.issue("apr_2", 7, not_after=LATER)
    assert (short_until, long_until) == (START + timedelta(minutes=1), START + timedelta(minutes=5))

    clock.advance(timedelta(minutes=1))

    assert codes.redeem("apr_1", 7, short)[0] is Redeemed.EXPIRED
    assert codes.redeem("apr_2", 7, long)[0] is Redeemed.OK


def test_wrong_codes_burn_the_code_after_the_allowed_tries(codes: OneTimeCodes) -> None:
    code, _ = codes.issue("apr_1", 7, not_after=LATER)
    wrong = "000000" if code != "000000" else "111111"

    verdicts = [codes.redeem("apr_1", 7, wrong) for _ in range(3)]

    assert verdicts == [(Redeemed.WRONG, 2), (Redeemed.WRONG, 1), (Redeemed.BURNT, 0)]
    assert codes.redeem("apr_1", 7, code)[0] is Redeemed.NONE


def test_a_new_code_replaces_the_one_sent_before(codes: OneTimeCodes) -> None:
    first, _ = codes.issue("apr_1", 7, not_after=LATER)
    second, _ = codes.issue("apr_1", 7, not_after=LATER)

    if first != second:
        assert codes.redeem("apr_1", 7, first)[0] is Redeemed.WRONG
    assert codes.redeem("apr_1", 7, second)[0] is Redeemed.OK
