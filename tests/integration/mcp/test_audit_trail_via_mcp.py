"""Every decision reaches audit.decisions with who made it, read back through ``get_decisions``.

Beyond the orders (tested elsewhere), a client's pause, limit change, cancels, approvals' ends
(rejected, executed by a person, expired) and the kill switch with its flatten each leave one
row naming the principal that decided: the assistant, the person who answered the form, or
``system`` when nobody did in time.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import pytest
from fastmcp import Client, FastMCP
from fastmcp.client.client import CallToolResult
from mcp.types import TextContent

from trading_core.adapters.clock import SimulatedClock
from trading_core.settings import Settings

from .conftest import advance

SYMBOL = "BTC/USD"
ASSISTANT = "assistant:local"
SMALL = Decimal("0.01")


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(mcp={"history_bars": 60}, kill_switch={"flatten": "all"})


def _text(result: CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


async def ok(client: Client[Any], tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments, raise_on_error=False)
    assert not result.is_error, f"{tool}({arguments}) failed: {_text(result)}"
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def price(client: Client[Any], *, marketable: bool) -> str:
    quote = await ok(client, "get_quote", symbol=SYMBOL)
    tick = Decimal("0.1")
    if marketable:
        raw, rounding = Decimal(str(quote["ask"])) * Decimal("1.002"), ROUND_CEILING
    else:
        raw, rounding = Decimal(str(quote["bid"])) * Decimal("0.98"), ROUND_FLOOR
    return str((raw / tick).quantize(Decimal(1), rounding=rounding) * tick)


async def buy(client: Client[Any], quantity: Decimal, *, marketable: bool) -> dict[str, Any]:
    return await ok(
        client,
        "place_order",
        symbol=SYMBOL,
        side="buy",
        quantity=str(quantity),
        limit_price=await price(client, marketable=marketable),
    )


async def rows(client: Client[Any], decision_type: str) -> list[dict[str, Any]]:
    listed = (await ok(client, "get_decisions", limit=1000))["decisions"]
    return [row for row in listed if row["decision_type"] == decision_type]


async def large(client: Client[Any], settings: Settings) -> Decimal:
    quote = await ok(client, "get_quote", symbol=SYMBOL)
    target = settings.approvals.assistant_paper_notional * Decimal("1.5")
    return (target / Decimal(str(quote["ask"]))).quantize(Decimal("0.0001"), ROUND_CEILING)


async def say_yes(message: str, response_type: Any, params: Any, context: Any) -> dict[str, bool]:
    return {"approve": True}


async def test_a_pause_and_a_limit_change_name_the_assistant(client: Client[Any]) -> None:
    await ok(client, "pause_trading", reason="news at 14:00", minutes=5)
    await ok(client, "set_risk_limit", key="max_open_orders", value=3)

    (paused,) = await rows(client, "state_change")
    assert paused["principal"] == ASSISTANT
    assert paused["final_action"] == "ACTIVE -> HALTED"
    assert "news at 14:00" in paused["reasoning"]
    assert paused["risk_check"]["until"] is not None
    (limit,) = await rows(client, "limit_change")
    assert limit["principal"] == ASSISTANT
    assert limit["risk_check"]["key"] == "max_open_orders"
    assert Decimal(limit["risk_check"]["proposed"]) == 3
    assert limit["risk_check"]["kind"] == "tighten"


async def test_a_timed_pause_ending_is_decided_by_the_system(
    client: Client[Any], clock: SimulatedClock
) -> None:
    await ok(client, "pause_trading", reason="lunch", minutes=1)
    advance(clock, 61)
    placed = await buy(client, SMALL, marketable=False)  # the gate sees the pause has ended
    assert placed["status"] == "accepted", placed
    changes = await rows(client, "state_change")
    assert [(r["final_action"], r["principal"]) for r in changes] == [
        ("ACTIVE -> HALTED", ASSISTANT),
        ("HALTED -> ACTIVE", "system"),
    ]


async def test_cancels_name_who_asked_and_point_at_the_order(client: Client[Any]) -> None:
    first = (await buy(client, SMALL, marketable=False))["order"]["order_id"]
    second = (await buy(client, 2 * SMALL, marketable=False))["order"]["order_id"]  # not a repeat
    await ok(client, "cancel_order", order_id=first)
    await ok(client, "cancel_all_orders")

    cancels = await rows(client, "cancel")
    assert [r["order_id"] for r in cancels] == [first, second]
    assert all(r["principal"] == ASSISTANT for r in cancels)
    assert all(r["risk_check"]["status"] == "cancelled" for r in cancels)
    assert "cancel_all_orders" in cancels[1]["reasoning"]


async def test_approval_outcomes_name_who_decided(
    suite: FastMCP[Any], client: Client[Any], settings: Settings, clock: SimulatedClock
) -> None:
    quantity = await large(client, settings)
    rejected_id = (await buy(client, quantity, marketable=True))["approval_id"]
    await ok(client, "reject_order", approval_id=rejected_id, reason="too large")
    expired_id = (await buy(client, quantity, marketable=True))["approval_id"]
    async with Client(suite, elicitation_handler=say_yes) as person:
        approved_id = (await buy(person, quantity, marketable=True))["approval_id"]
        approved = await ok(person, "approve_order", approval_id=approved_id)
    assert approved["status"] == "executed", approved
    advance(clock, settings.approvals.ttl_seconds + 1)
    await ok(client, "list_approvals")  # reading the queue marks the overdue one expired

    ended = {r["risk_check"]["approval_id"]: r for r in await rows(client, "approval_outcome")}
    assert set(ended) == {rejected_id, approved_id, expired_id}
    assert ended[rejected_id]["principal"] == ASSISTANT  # rejecting only removes risk
    assert ended[rejected_id]["risk_check"]["status"] == "rejected"
    assert "too large" in ended[rejected_id]["reasoning"]
    assert ended[approved_id]["principal"] == approved["decided_by"]
    assert ended[approved_id]["principal"].startswith("human:")
    assert ended[approved_id]["risk_check"]["status"] == "executed"
    assert ended[approved_id]["order_id"] == approved["result"]["order"]["order_id"]
    assert ended[expired_id]["principal"] == "system"
    assert ended[expired_id]["risk_check"]["status"] == "expired"
    assert all(r["symbol"] == SYMBOL for r in ended.values())


async def test_the_kill_switch_its_cancels_and_its_flatten_name_who_fired_it(
    client: Client[Any],
) -> None:
    held = await buy(client, SMALL, marketable=True)
    assert held["status"] == "filled", held
    working = (await buy(client, SMALL, marketable=False))["order"]["order_id"]
    await ok(client, "activate_kill_switch", reason="runaway agent")

    (killed,) = await rows(client, "state_change")
    assert (killed["final_action"], killed["principal"]) == ("ACTIVE -> KILLED", ASSISTANT)
    assert killed["risk_check"]["kill_latched_until"] is not None
    (cancel,) = await rows(client, "cancel")
    assert (cancel["order_id"], cancel["principal"]) == (working, ASSISTANT)
    assert "kill switch: runaway agent" in cancel["reasoning"]
    (flatten,) = await rows(client, "flatten")
    assert flatten["principal"] == ASSISTANT
    assert flatten["final_action"] == f"sell {SMALL} {SYMBOL} -> filled"
    assert flatten["reasoning"] == "kill switch flatten: runaway agent"
    assert flatten["order_id"]
    assert (await ok(client, "get_positions"))["positions"] == []
