"""The suite answers through a real client in both eras (a quick canary for the fixtures)."""

from __future__ import annotations

from typing import Any

from fastmcp import Client


async def test_get_quote_answers_in_both_eras(client: Client[Any]) -> None:
    result = await client.call_tool("get_quote", {"symbol": "BTC/USD"})
    content = result.structured_content
    assert content is not None
    assert content["symbol"] == "BTC/USD"
    assert content["stale"] is False
    assert float(content["bid"]) < float(content["ask"])


async def test_the_summary_resource_and_the_briefing_prompt(client: Client[Any]) -> None:
    resource = await client.read_resource("portfolio://summary")
    text = getattr(resource[0], "text", "")
    assert '"equity":"100000"' in text.replace(" ", "")
    prompt = await client.get_prompt("daily_briefing")
    said = str(prompt.messages[0].content)
    assert "get_portfolio_summary" in said
    assert "Do not place or approve anything" in said
