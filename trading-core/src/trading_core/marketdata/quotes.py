"""Quotes made up around a price, for sources that only know bars (replay, synthetic)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from trading_core.domain.base import ZERO
from trading_core.domain.market import Quote

QUOTE_SIGNIFICANT_DIGITS = 8
"""Bid and ask keep this many significant digits: enough for any venue's tick, no float noise."""
_BPS = Decimal(10_000)


def quote_around(
    *,
    symbol: str,
    price: Decimal,
    spread_bps: Decimal,
    timestamp: datetime,
    source: str,
    volume: Decimal = ZERO,
    tick: Decimal | None = None,
) -> Quote:
    """A quote with bid/ask ``spread_bps`` apart, centred on ``price`` (the last trade).

    Bid and ask are rounded to ``tick`` when given, else to ``QUOTE_SIGNIFICANT_DIGITS``; the
    bid is rounded down and the ask up, so rounding never narrows the spread.
    """
    if spread_bps < 0:
        raise ValueError(f"spread must not be negative: {spread_bps} bps")
    half_spread = price * spread_bps / _BPS / 2
    step = tick if tick is not None else Decimal(1).scaleb(_quote_exponent(price))
    bid = round_to_tick(price - half_spread, step, ROUND_FLOOR)
    ask = round_to_tick(price + half_spread, step, ROUND_CEILING)
    if bid <= 0:
        bid = step  # a spread wider than the price itself: quote the smallest positive bid
    if price <= 0 or timestamp.tzinfo is None or volume < 0:
        raise ValueError(f"no quote around price {price} at {timestamp!r}, volume {volume}")
    # Built without re-validation: every field is checked above or derived so it holds
    # (bid <= ask, both positive), and this runs three times a bar in a replay.
    return Quote.model_construct(
        symbol=symbol,
        bid=bid,
        ask=ask,
        last=price,
        volume=volume,
        timestamp=timestamp,
        source=source,
    )


def round_to_tick(value: Decimal, tick: Decimal, rounding: str) -> Decimal:
    """``value`` on a multiple of ``tick`` (``quantize`` alone only handles powers of ten)."""
    steps = (value / tick).quantize(Decimal(1), rounding=rounding)
    return (steps * tick).quantize(tick)


def _quote_exponent(price: Decimal) -> int:
    # adjusted() is the exponent of the leading digit: 0.0994766 -> -2, 100.34 -> 2.
    return price.adjusted() - (QUOTE_SIGNIFICANT_DIGITS - 1)
