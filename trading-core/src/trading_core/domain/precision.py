"""Precision at the edges: money to its currency's places, prices to their tick, percentages.

The books keep full precision (a ledger that rounds drifts, and decisions must replay byte for
byte). What leaves the system - MCP tool results, backtest report files - is rounded here, half
to even, so no payload shows an equity of ``98921.250387870122887271490``.

Rounding only ever removes digits: an amount already within its places is returned unchanged
(``100000`` stays ``100000``, not ``100000.00``), and an amount that rounds to zero is plain
``0`` (never ``0E-8`` or ``-0.00``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from types import MappingProxyType
from typing import Final

from trading_core.domain.base import ZERO

CURRENCY_PLACES: Final[Mapping[str, int]] = MappingProxyType(
    {
        **dict.fromkeys(
            ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "HKD", "SGD"),
            2,
        ),
        "JPY": 0,
        "KRW": 0,
        "BTC": 8,
        "ETH": 8,
        "XBT": 8,
    }
)
"""Decimal places of each known currency's smallest unit (cents, yen, satoshis)."""
UNKNOWN_CURRENCY_PLACES: Final = 8
"""Places of a currency not in :data:`CURRENCY_PLACES` (crypto-like: keep satoshi detail)."""
PERCENT_PLACES: Final = 6
"""Places of Decimal percentages and ratios (drawdown %, exposure %, leverage) at the edges."""


def currency_places(currency: str) -> int:
    """How many decimal places amounts in ``currency`` show (USD 2, JPY 0, BTC 8, unknown 8)."""
    return CURRENCY_PLACES.get(currency.strip().upper(), UNKNOWN_CURRENCY_PLACES)


def round_to_places(value: Decimal, places: int) -> Decimal:
    """``value`` with at most ``places`` decimal places, half to even; never adds digits."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= -places:
        return value  # already that precise (or not finite: nothing to round)
    with localcontext() as context:
        # quantize needs room for every integer digit plus the kept places.
        context.prec = max(context.prec, value.adjusted() + places + 2)
        rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return rounded if rounded else ZERO


def round_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded to ``currency``'s places (see :func:`currency_places`)."""
    return round_to_places(amount, currency_places(currency))


def round_percent(value: Decimal) -> Decimal:
    """A Decimal percentage or ratio rounded to :data:`PERCENT_PLACES` places."""
    return round_to_places(value, PERCENT_PLACES)


def tick_places(tick: Decimal) -> int:
    """Decimal places of a tick or lot size (``0.1`` -> 1, ``0.00000001`` -> 8, ``5`` -> 0)."""
    exponent = tick.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def round_price(price: Decimal, tick: Decimal) -> Decimal:
    """``price`` (an average, say) shown with no more places than the instrument's ``tick``."""
    return round_to_places(price, tick_places(tick))


def format_money(amount: Decimal, currency: str) -> str:
    """``amount`` with exactly its currency's places, for text a person reads (``100000.00``)."""
    places = currency_places(currency)
    return f"{round_to_places(amount, places):.{places}f}"
