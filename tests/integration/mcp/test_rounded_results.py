"""Tool results show money in its currency's places; the books underneath keep every digit."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastmcp import Client

from mcp_servers.runtime import Runtime
from mcp_servers.suite import build_suite
from trading_core.adapters.clock import SimulatedClock
from trading_core.reporting.rounding import (
    MONEY_KEYS,
    MONEY_MAP_KEYS,
    PRICE_KEYS,
    SIZE_KEYS,
    is_percent_key,
)
from trading_core.services.principals import AUTONOMOUS_PRINCIPAL, Principal
from trading_core.settings import Settings

from .conftest import advance

ORDERS = [("BTC/USD", "buy", "0.013"), ("ETH/USD", "buy", "0.17"), ("BTC/USD", "sell", "0.005")]
ORDER_ARGUMENTS = {
    "symbol": "BTC/USD",
    "side": "buy",
    "quantity": "0.013",
    "order_type": "market",
    "reason": "rounding",
}
TOOLS: list[tuple[str, dict[str, Any]]] = [
    ("get_portfolio_summary", {}),
    ("get_positions", {}),
    ("get_trade_history", {}),
    ("list_orders", {}),
    ("get_risk_metrics", {}),
    ("get_equity_curve", {}),
    ("get_performance", {}),
    ("get_decisions", {}),
    (
        "check_order",
        {"symbol": "BTC/USD", "side": "buy", "quantity": "0.013", "order_type": "market"},
    ),
    ("run_stress_test", {"scenario": "crypto_crash_2018"}),
    ("get_position_size", {"symbol": "BTC/USD", "win_probability": 0.55, "win_loss_ratio": 1.5}),
    ("get_risk_limits", {}),
    ("get_quote", {"symbol": "BTC/USD"}),
    ("get_ohlcv", {"symbol": "BTC/USD", "timeframe": "1h", "limit": 3}),
    ("list_symbols", {}),
]
EXACT = {
    "quantity",
    "filled_quantity",
    *("open", "high", "low", "close", "volume"),  # bars as the feed gives them
    *("effective", "hard_cap", "previous", "requested"),  # limits are set values
    *("full_kelly", "fractional_kelly", "kelly_multiplier"),
    *("tick_size", "lot_size", "min_quantity", "max_quantity"),
    "marketable_limit_price",  # the audit's own record of what was sent
    "shocks",  # a scenario's fractions, under each symbol
}
"""Decimal fields shown as they are: the policy leaves them unrounded on purpose."""


def _places(text: str) -> int:
    exponent = Decimal(text).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _decimal_fields(data: Any, key: str = "") -> list[tuple[str, str]]:
    """Every (field, value) whose value is a Decimal written as a string, at any depth."""
    if isinstance(data, dict) and key == "shocks":
        return [pair for v in data.values() for pair in _decimal_fields(v, "shocks")]
    if isinstance(data, dict) and key in MONEY_MAP_KEYS:
        return [pair for v in data.values() for pair in _decimal_fields(v, "notional")]
    if isinstance(data, dict):
        return [pair for k, v in data.items() for pair in _decimal_fields(v, k)]
    if isinstance(data, list):
        return [pair for item in data for pair in _decimal_fields(item, key)]
    if isinstance(data, str) and key:
        try:
            Decimal(data)
        except ArithmeticError:
            return []
        return [(key, data)]
    return []


async def test_money_prices_and_percentages_leave_rounded(
    client: Client[Any], runtime: Runtime, clock: SimulatedClock
) -> None:
    for symbol, side, quantity in ORDERS:
        placed = await client.call_tool(
            "place_order",
            {
                "symbol": symbol,
                "side": side,
                "quantity": quantity,
                "order_type": "market",
                "reason": "rounding",
            },
        )
        assert placed.structured_content["status"] == "filled", placed.structured_content
        fill = placed.structured_content["fills"][0]
        assert _places(fill["price"]) <= 2
        assert _places(fill["commission"]) <= 2
        assert fill["quantity"] == quantity  # exactly what was asked
        advance(clock, 61)

    seen: dict[str, set[int]] = {"money": set(), "price": set(), "percent": set()}
    for name, arguments in TOOLS:
        result = await client.call_tool(name, arguments)
        # The text a client shows is the same rounded document as the structured one.
        assert json.loads(result.content[0].text) == result.structured_content, name
        for key, value in _decimal_fields(result.structured_content):
            if key in MONEY_KEYS:
                seen["money"].add(_places(value))
                assert _places(value) <= 2, (name, key, value)  # USD: cents
            elif key in PRICE_KEYS:
                seen["price"].add(_places(value))
                assert _places(value) <= 2, (name, key, value)  # BTC/USD, ETH/USD ticks
            elif is_percent_key(key):
                seen["percent"].add(_places(value))
                assert _places(value) <= 6, (name, key, value)
            else:
                assert key in EXACT | SIZE_KEYS, (name, key, value)
            assert "E" not in value.upper(), (name, key, value)  # fixed point, never 1E-8
            assert _places(value) <= 8, (name, key, value)  # nowhere 27 digits
    assert all(seen.values()), seen  # every kind of field was actually looked at

    # Rounding happens at the edge only: the ledger still holds the exact fills.
    app = await runtime.app()
    fills = await app.store.list_fills(account=app.account.name)
    assert len(fills) == len(ORDERS)
    assert any(_places(f"{fill.price}") > 2 for fill in fills)
    assert any(_places(f"{fill.commission}") > 2 for fill in fills)


async def test_trading_cores_own_loop_gets_every_digit(
    settings_factory: Callable[..., Settings], clock: SimulatedClock
) -> None:
    """The autonomous principal sizes from these numbers: through MCP they equal in-process."""
    autonomous = Principal.for_token_name(AUTONOMOUS_PRINCIPAL)
    runtime = Runtime(settings_factory(), clock=clock, principal=autonomous)
    try:
        async with Client(build_suite(runtime)) as client:
            placed = await client.call_tool("place_order", dict(ORDER_ARGUMENTS))
            fill = placed.structured_content["fills"][0]
            app = await runtime.app()
            (stored,) = await app.store.list_fills()
            assert Decimal(fill["price"]) == stored.price
            assert _places(fill["price"]) > 2  # the paper fill's slippage, unrounded
    finally:
        await runtime.close()
