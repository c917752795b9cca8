"""A mark's age is judged by its market's sessions: a closed market's last price stays good."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading_core.risk.firm import (
    FIRM_MARK_STALE,
    AccountSnapshot,
    FirmLimits,
    HeldPosition,
    firm_exposure,
)
from trading_core.risk.fx import FxRates
from trading_core.risk.market_hours import last_close, mark_age

# 2026-12-04 is a Friday; New York is on EST (UTC-5) in December.
FRIDAY_CLOSE = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)  # 16:00 New York
SATURDAY = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
MONDAY_PREOPEN = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # 09:00 New York
MONDAY_OPEN = datetime(2026, 12, 7, 14, 31, tzinfo=UTC)  # 09:31 New York


@pytest.mark.parametrize(
    ("now", "closed_at"),
    [
        (datetime(2026, 12, 4, 20, 59, tzinfo=UTC), None),  # Friday 15:59: trading
        (FRIDAY_CLOSE, FRIDAY_CLOSE),  # 16:00 sharp: closed
        (SATURDAY, FRIDAY_CLOSE),
        (MONDAY_PREOPEN, FRIDAY_CLOSE),  # Monday before the open: still Friday's close
        (MONDAY_OPEN, None),
        (datetime(2026, 12, 8, 12, 0, tzinfo=UTC), datetime(2026, 12, 7, 21, 0, tzinfo=UTC)),
        # Summer: EDT (UTC-4), the close is at 20:00 UTC.
        (datetime(2026, 7, 4, 12, 0, tzinfo=UTC), datetime(2026, 7, 3, 20, 0, tzinfo=UTC)),
    ],
)
def test_us_equities_close_at_four_in_new_york_on_weekdays(
    now: datetime, closed_at: datetime | None
) -> None:
    assert last_close("equity", now) == closed_at


def test_fx_closes_for_the_weekend_and_crypto_never() -> None:
    friday_turn = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)  # 17:00 New York
    assert last_close("fx", datetime(2026, 12, 4, 21, 59, tzinfo=UTC)) is None
    assert last_close("fx", SATURDAY) == friday_turn
    assert last_close("fx", datetime(2026, 12, 6, 21, 59, tzinfo=UTC)) == friday_turn
    assert last_close("fx", datetime(2026, 12, 6, 22, 0, tzinfo=UTC)) is None  # Sunday 17:00
    assert last_close("crypto", SATURDAY) is None


def test_a_mark_is_as_old_as_it_was_when_its_market_closed() -> None:
    marked = FRIDAY_CLOSE - timedelta(seconds=30)
    assert mark_age("equity", marked, SATURDAY) == timedelta(seconds=30)
    assert mark_age("crypto", marked, SATURDAY) == SATURDAY - marked
    assert mark_age("equity", marked, MONDAY_OPEN) == MONDAY_OPEN - marked  # trading again


def _exposure(position: HeldPosition, now: datetime) -> tuple[str, ...]:
    snapshot = AccountSnapshot(
        account="ib", currency="USD", cash=Decimal(1000), positions=(position,), as_of=now
    )
    seen = firm_exposure(
        {"ib": snapshot},
        base_currency="USD",
        order_currency="USD",
        fx=FxRates([], max_age=timedelta(seconds=120), now=now),
        now=now,
        limits=FirmLimits(
            max_account_age=timedelta(seconds=120), max_mark_age=timedelta(seconds=900)
        ),
    )
    return tuple(v.code for v in seen.problems)


def test_the_firm_view_values_a_share_at_fridays_close_over_the_weekend() -> None:
    share = HeldPosition(
        symbol="GOOG",
        currency="USD",
        quantity=Decimal(10),
        mark=Decimal(170),
        marked_at=FRIDAY_CLOSE - timedelta(minutes=1),
        asset_class="equity",
    )
    assert _exposure(share, SATURDAY) == ()
    assert _exposure(share, MONDAY_OPEN + timedelta(minutes=20)) == (FIRM_MARK_STALE,)
    # The same mark on a 24/7 market is just old.
    coin = HeldPosition(
        symbol="BTC/USD",
        currency="USD",
        quantity=Decimal(1),
        mark=Decimal(40_000),
        marked_at=FRIDAY_CLOSE - timedelta(minutes=1),
    )
    assert _exposure(coin, SATURDAY) == (FIRM_MARK_STALE,)
    # A mark that was stale already when the market closed stays stale.
    late = HeldPosition(
        symbol="GOOG",
        currency="USD",
        quantity=Decimal(10),
        mark=Decimal(170),
        marked_at=FRIDAY_CLOSE - timedelta(hours=2),
        asset_class="equity",
    )
    assert _exposure(late, SATURDAY) == (FIRM_MARK_STALE,)


def test_a_snapshot_keeps_its_positions_asset_class_and_old_ones_read_as_24_7() -> None:
    share = HeldPosition("GOOG", "USD", Decimal(1), Decimal(1), SATURDAY, asset_class="equity")
    snapshot = AccountSnapshot("ib", "USD", Decimal(0), (share,), SATURDAY)
    state = snapshot.to_state()
    assert AccountSnapshot.from_state(state).positions[0].asset_class == "equity"
    del state["positions"][0]["asset_class"]
    assert AccountSnapshot.from_state(state).positions[0].asset_class == "crypto"
