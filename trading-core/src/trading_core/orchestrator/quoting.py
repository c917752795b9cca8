"""Quotes derived from bar prices for replays and synthetic data (spread around a price)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from trading_core.domain.instrument import Instrument
from trading_core.domain.market import Quote


def quote_around(
    instrument: Instrument,
    price: Decimal,
    *,
    spread_bps: Decimal,
    volume: Decimal,
    at: datetime,
    source: str,
) -> Quote:
    """Bid and ask half a spread either side of ``price``, widened outward to the tick."""
    half = price * spread_bps / Decimal(20_000)
    tick = instrument.tick_size
    bid = ((price - half) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    ask = ((price + half) / tick).to_integral_value(rounding=ROUND_CEILING) * tick
    bid = max(bid, tick)
    return Quote(
        symbol=instrument.symbol,
        bid=bid,
        ask=max(ask, bid),
        last=price,
        volume=volume,
        timestamp=at,
        source=source,
    )


def marketable_limit(quote: Quote, *, buy: bool, tick: Decimal, slack_bps: Decimal) -> Decimal:
    """A limit price that crosses the spread by ``slack_bps`` without rounding more aggressive."""
    if buy:
        raw = quote.ask * (1 + slack_bps / Decimal(10_000))
        return (raw / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    raw = quote.bid * (1 - slack_bps / Decimal(10_000))
    return max(tick, (raw / tick).to_integral_value(rounding=ROUND_CEILING) * tick)
