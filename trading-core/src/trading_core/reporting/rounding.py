"""One rounding policy for everything that leaves the system: MCP results and report files.

The books keep full precision (a ledger that rounds drifts, and replays must be identical).
What a person or a model reads is rounded here, by what each field holds:

- money (equity, cash, P&L, commissions, notionals, VaR) to its currency's places: the nearest
  enclosing instrument's quote currency, else the payload's ``currency``, else the account's;
- prices (fill and average prices, marks, quotes) to the instrument's tick places, never fewer
  than its currency's (an average entry of 39550.342743872 USD shows as 39550.34);
- percentages and ratios (``*_pct``, leverage) to six places.

Quantities are never rounded (a lot is exact; sizes computed before the lot rounds them keep
satoshi places), nor are floats (statistics, already short) or
anything the policy does not name. Values arrive as the JSON form of a pydantic dump (Decimals
as strings) or as Decimals; each comes back in the form it came in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from trading_core.domain.precision import (
    UNKNOWN_CURRENCY_PLACES,
    currency_places,
    round_percent,
    round_to_places,
    tick_places,
)

MONEY_KEYS: Final = frozenset(
    {
        "equity",
        "cash",
        "positions_value",
        "gross_exposure",
        "net_exposure",
        "long_exposure",
        "short_exposure",
        "gross_value",
        "market_value",
        "daily_pnl",
        "realized_pnl",
        "unrealized_pnl",
        "pnl",
        "commission",
        "commissions",
        "notional",
        "var",
        "cvar",
        "loss",
        "starting_equity",
        "ending_equity",
        "high_water_mark",
        "total_pnl",
        "stressed_equity",
    }
)
"""Fields that hold an amount of money."""
MONEY_MAP_KEYS: Final = frozenset({"by_symbol", "pnl_by_symbol"})
"""Fields that map symbols to amounts of money (exposure per symbol)."""
PRICE_KEYS: Final = frozenset(
    {
        "price",
        "average_price",
        "average_fill_price",
        "entry_price",
        "exit_price",
        "mark",
        "limit_price",
        "stop_price",
        "reference_price",
        "bid",
        "ask",
        "last",
        "mid",
    }
)
"""Fields that hold a price of the enclosing instrument."""
PERCENT_KEYS: Final = frozenset({"leverage", "pnl_pct_of_equity"})
"""Ratio fields besides those named ``*_pct``."""
SIZE_KEYS: Final = frozenset(
    {
        "kelly_quantity",
        "after_order_notional_cap",
        "after_position_cap",
        "after_risk_per_trade_cap",
        "after_max_quantity",
    }
)
"""Quantities computed on the way to a size, before the lot rounds them: satoshi places."""
INCREMENT_KEYS: Final = frozenset({"tick_size", "lot_size", "min_quantity", "max_quantity"})
"""An instrument's increments: exact, but written in fixed point (``0.00000001``, not ``1E-8``)."""

TickOf = Callable[[str], Decimal | None]
"""An instrument's tick size by symbol, None when the instrument is not known."""


def is_percent_key(key: str) -> bool:
    """Whether ``key`` names a percentage or a ratio."""
    return key.endswith("_pct") or key in PERCENT_KEYS


def quote_currency(symbol: str) -> str | None:
    """``USD`` of ``BTC/USD``; None for a symbol without a quote (``GOOG``)."""
    base, slash, quote = symbol.partition("/")
    return quote.strip().upper() if slash and base and quote else None


@dataclass(frozen=True, slots=True)
class _Scope:
    currency: str
    symbol: str | None = None


def round_payload(data: Any, *, currency: str, tick_of: TickOf | None = None) -> Any:
    """``data`` (nested dicts and lists) with money, prices and percentages rounded.

    ``currency`` is the account currency, the fallback for money outside any instrument.
    ``tick_of`` gives price places; without it (or for an unknown symbol) prices keep their
    currency's places, or :data:`UNKNOWN_CURRENCY_PLACES` when the quote is not known.
    """
    return _walk(data, None, _Scope(currency), tick_of or _no_ticks)


def _no_ticks(_symbol: str) -> Decimal | None:
    return None


def _walk(value: Any, key: str | None, scope: _Scope, tick_of: TickOf) -> Any:
    if isinstance(value, Mapping):
        inner = _scope_of(value, scope)
        if key in MONEY_MAP_KEYS:
            return {k: _round(v, _money_places(inner)) for k, v in value.items()}
        return {k: _walk(v, k, inner, tick_of) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_walk(item, key, scope, tick_of) for item in value)
    if key is None:
        return value
    if key in MONEY_KEYS:
        return _round(value, _money_places(scope))
    if key in PRICE_KEYS:
        return _round(value, _price_places(scope, tick_of))
    if is_percent_key(key):
        return _round(value, None)
    if key in SIZE_KEYS:
        return _round(value, UNKNOWN_CURRENCY_PLACES)
    if key in INCREMENT_KEYS:
        return _fixed_point(value)
    return value


def _scope_of(mapping: Mapping[str, Any], outer: _Scope) -> _Scope:
    scope = outer
    named_currency = mapping.get("currency")
    if isinstance(named_currency, str) and named_currency:
        scope = replace(scope, currency=named_currency)
    symbol = mapping.get("symbol")
    if isinstance(symbol, str) and symbol:
        scope = replace(scope, symbol=symbol)
    return scope


def _money_places(scope: _Scope) -> int:
    quote = quote_currency(scope.symbol) if scope.symbol else None
    return currency_places(quote or scope.currency)


def _price_places(scope: _Scope, tick_of: TickOf) -> int:
    if scope.symbol is None:
        return UNKNOWN_CURRENCY_PLACES
    quote = quote_currency(scope.symbol)
    floor = currency_places(quote) if quote else currency_places(scope.currency)
    tick = tick_of(scope.symbol)
    # An instrument without a known tick keeps satoshi detail: 2 places would flatten EUR/USD.
    return max(floor, tick_places(tick)) if tick is not None else UNKNOWN_CURRENCY_PLACES


def _round(value: Any, places: int | None) -> Any:
    """``value`` rounded to ``places`` (None: percent places), in the form it came in."""
    if isinstance(value, Decimal):
        return round_percent(value) if places is None else round_to_places(value, places)
    if isinstance(value, str):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            return value  # not a number: nothing to round
        if not amount.is_finite():
            return value
        rounded = round_percent(amount) if places is None else round_to_places(amount, places)
        # Unchanged digits keep their original spelling ("100000" stays "100000").
        return value if rounded is amount else f"{rounded:f}"
    return value  # floats, ints, None, booleans: not this policy's business


def _fixed_point(value: Any) -> Any:
    """A Decimal string in exponent form (``1E-8``) written in fixed point; others unchanged."""
    if isinstance(value, str) and "E" in value.upper():
        try:
            amount = Decimal(value)
        except InvalidOperation:
            return value
        if amount.is_finite():
            return f"{amount:f}"
    return value
