"""Currency conversion from quotes, with a staleness limit, failing closed.

A rate is read off a currency pair's quote (``EUR/USD``, ``BTC/USD``): directly, inverted, or
crossed through one other currency (``ADA/BTC`` then ``BTC/USD``). A rate is usable only while
every quote it is built from is younger than ``max_age``; a missing or stale rate raises
:class:`FxUnavailable` with a stable code, so a caller that converts exposure cannot quietly
count a foreign position at zero, or at last week's rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from trading_core.domain.errors import TradingError

ONE = Decimal(1)

FX_RATE_MISSING = "FX_RATE_MISSING"
FX_RATE_STALE = "FX_RATE_STALE"


class FxUnavailable(TradingError):
    """No usable rate between two currencies (``code``: missing or stale)."""


def pair_currencies(symbol: str) -> tuple[str, str] | None:
    """``("BTC", "USD")`` for ``"BTC/USD"``; None for a symbol that is not a currency pair."""
    base, slash, quote = symbol.partition("/")
    if not slash or not base or not quote or "/" in quote:
        return None
    return base.upper(), quote.upper()


@dataclass(frozen=True, slots=True)
class FxQuote:
    """One pair's mid at one moment: 1 ``base`` = ``mid`` ``quote``."""

    base: str
    quote: str
    mid: Decimal
    at: datetime

    @classmethod
    def of(cls, symbol: str, mid: Decimal, at: datetime) -> FxQuote | None:
        """The pair's quote, or None when ``symbol`` is no pair or ``mid`` not positive."""
        pair = pair_currencies(symbol)
        if pair is None or mid <= 0:
            return None
        return cls(base=pair[0], quote=pair[1], mid=mid, at=at)


@dataclass(frozen=True, slots=True)
class _Leg:
    rate: Decimal
    at: datetime
    """When the quote behind this leg was taken (the older leg's time, for a cross)."""


class FxRates:
    """Rates between currencies as of ``now``, from the freshest quote of each pair."""

    def __init__(self, quotes: Iterable[FxQuote], *, now: datetime, max_age: timedelta) -> None:
        self._now = now
        self._max_age = max_age
        self._legs: dict[tuple[str, str], _Leg] = {}
        for q in quotes:
            for key, rate in (((q.base, q.quote), q.mid), ((q.quote, q.base), ONE / q.mid)):
                known = self._legs.get(key)
                if known is None or q.at > known.at:
                    self._legs[key] = _Leg(rate=rate, at=q.at)

    def rate(self, source: str, target: str) -> Decimal:
        """How many ``target`` one ``source`` is worth; raises :class:`FxUnavailable`."""
        source, target = source.upper(), target.upper()
        if source == target:
            return ONE
        candidates = self._paths(source, target)
        if not candidates:
            raise FxUnavailable(
                f"no quote converts {source} to {target}: trade or subscribe to a pair linking "
                "them (directly or through one other currency)",
                code=FX_RATE_MISSING,
            )
        fresh = [leg for leg in candidates if self._fresh(leg.at)]
        if not fresh:
            newest = max(candidates, key=lambda leg: leg.at)
            age = (self._now - newest.at).total_seconds()
            raise FxUnavailable(
                f"the {source}->{target} rate is {age:.0f}s old "
                f"(max {self._max_age.total_seconds():.0f}s)",
                code=FX_RATE_STALE,
            )
        # The freshest usable path: a direct quote beats an older cross.
        return max(fresh, key=lambda leg: leg.at).rate

    def _fresh(self, at: datetime) -> bool:
        age = self._now - at
        return timedelta(seconds=-1) <= age <= self._max_age

    def _paths(self, source: str, target: str) -> list[_Leg]:
        found: list[_Leg] = []
        direct = self._legs.get((source, target))
        if direct is not None:
            found.append(direct)
        for (start, middle), first in self._legs.items():
            if start != source or middle == target:
                continue
            second = self._legs.get((middle, target))
            if second is not None:
                found.append(_Leg(rate=first.rate * second.rate, at=min(first.at, second.at)))
        return found
