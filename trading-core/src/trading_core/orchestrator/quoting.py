"""Limit prices for the orchestrator's orders: marketable, never rounded more aggressive."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from trading_core.domain.market import Quote
from trading_core.marketdata.quotes import round_to_tick

_BPS = Decimal(10_000)


def marketable_limit(quote: Quote, *, buy: bool, tick: Decimal, slack_bps: Decimal) -> Decimal:
    """A limit that crosses the spread by up to ``slack_bps``, rounded toward the passive side."""
    if buy:
        return round_to_tick(quote.ask * (1 + slack_bps / _BPS), tick, ROUND_FLOOR)
    return max(tick, round_to_tick(quote.bid * (1 - slack_bps / _BPS), tick, ROUND_CEILING))
