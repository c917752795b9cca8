"""When a market trades, so that a mark is judged by how old it was when trading stopped.

A position's last mark is a true price while its market is closed: a US share marked at Friday's
close is still worth that on Saturday. The firm view measures a mark's age from the moment its
market last closed when it is closed now, and from now while it trades.

Sessions (holidays are not known: on one the market counts as open, so its marks go stale and
new exposure is refused - the safe way to be wrong):

- ``equity``: US regular hours, 09:30 to 16:00 America/New_York, Monday to Friday.
- ``fx``: Sunday 17:00 to Friday 17:00 America/New_York (the interbank week).
- ``crypto``: always open.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trading_core.domain.instrument import AssetClass

_NEW_YORK_NAME = "America/New_York"
EQUITY_OPEN, EQUITY_CLOSE = time(9, 30), time(16, 0)
FX_WEEK_TURN = time(17, 0)
_SEARCH_DAYS = 8


def _new_york() -> ZoneInfo | None:
    try:
        return ZoneInfo(_NEW_YORK_NAME)
    except ZoneInfoNotFoundError:
        return None


def last_close(asset_class: AssetClass | str, now: datetime) -> datetime | None:
    """When the market of ``asset_class`` last stopped trading, if it is closed at ``now``.

    None while it trades (or always, for crypto), and None when the time zone database is
    missing: then every mark is judged from now, the strict reading.
    """
    kind = AssetClass(asset_class)
    if kind is AssetClass.CRYPTO:
        return None
    zone = _new_york()
    if zone is None:
        return None
    local = now.astimezone(zone)
    if kind is AssetClass.EQUITY:
        return _equity_last_close(local)
    return _fx_last_close(local)


def _equity_last_close(local: datetime) -> datetime | None:
    if local.weekday() < 5 and EQUITY_OPEN <= local.time() < EQUITY_CLOSE:
        return None
    day = local.date()
    if local.weekday() < 5 and local.time() < EQUITY_OPEN:
        day -= timedelta(days=1)  # before today's open: yesterday's close (or Friday's)
    for _ in range(_SEARCH_DAYS):
        if day.weekday() < 5:
            return datetime.combine(day, EQUITY_CLOSE, tzinfo=local.tzinfo)
        day -= timedelta(days=1)
    return None


def _fx_last_close(local: datetime) -> datetime | None:
    weekday, at = local.weekday(), local.time()
    closed = (
        (weekday == 4 and at >= FX_WEEK_TURN)
        or weekday == 5
        or (weekday == 6 and at < FX_WEEK_TURN)
    )
    if not closed:
        return None
    friday = local.date() - timedelta(days=(weekday - 4) % 7)
    return datetime.combine(friday, FX_WEEK_TURN, tzinfo=local.tzinfo)


def mark_age(asset_class: AssetClass | str, marked_at: datetime, now: datetime) -> timedelta:
    """How old a mark is for its market: measured to the last close while the market is shut."""
    closed_at = last_close(asset_class, now)
    reference = now if closed_at is None else min(now, closed_at)
    return max(timedelta(0), reference - marked_at)
