"""The suite's /metrics over real HTTP: calls by outcome, latency, refusals by reason, approvals.

The suite is served as `mcp-suite --transport http` serves it and called through fastmcp's
Client with the trading-core token; the exposition is read by Prometheus' own text parser.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from mcp_servers.runtime import Runtime
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings

from .served_suite import AUTONOMOUS_TOKEN, ServedSuite

ASSISTANT_TOKEN = "assistant-metrics-token"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_tool_calls_refusals_and_approvals_are_counted(tmp_path: Path) -> None:
    settings = load_settings(
        config_dir=PACKAGED_CONFIG_DIR,
        data_dir=tmp_path,
        mcp={"tokens": {"trading-core": AUTONOMOUS_TOKEN, "assistant": ASSISTANT_TOKEN}},
    )
    runtime = Runtime(settings)
    suite = ServedSuite(lambda: runtime, settings)
    await suite.start()
    try:
        # An assistant: its orders above 1,000 wait for a person (trading-core's budget is 5,000).
        async with suite.client(ASSISTANT_TOKEN) as client:
            await client.call_tool("get_quote", {"symbol": "BTC/USD"})
            await client.call_tool("get_quote", {"symbol": "BTC/USD"})
            missing = await client.call_tool(
                "cancel_order", {"order_id": "no-such-order"}, raise_on_error=False
            )
            assert missing.is_error
            refused = await client.call_tool(
                "place_order",
                {"symbol": "BTC/USD", "side": "buy", "quantity": "1000", "limit_price": "40000"},
            )
            assert refused.structured_content is not None
            assert refused.structured_content["status"] == "rejected"
            codes = {v["code"] for v in refused.structured_content["violations"]}
            queued = await client.call_tool(
                "place_order",
                {"symbol": "BTC/USD", "side": "buy", "quantity": "0.05", "limit_price": "40000"},
            )
            assert queued.structured_content is not None
            assert queued.structured_content["status"] == "pending_approval"
            approval = queued.structured_content["approval_id"]
            await client.call_tool("reject_order", {"approval_id": approval, "reason": "no"})

        async with aiohttp.ClientSession() as http:
            response = await http.get(suite.url.removesuffix("/mcp") + "/metrics")
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            seen = samples(await response.text())
    finally:
        await suite.stop()
        await runtime.close()

    def calls(tool: str, outcome: str) -> float:
        key = ("mcp_tool_calls_total", (("outcome", outcome), ("tool", tool)))
        return seen.get(key, 0.0)

    assert calls("get_quote", "ok") == 2
    assert calls("cancel_order", "refused") == 1
    assert calls("place_order", "refused") == 1
    assert calls("place_order", "ok") == 1  # queued for a person: answered, not refused
    assert calls("reject_order", "ok") == 1
    assert seen[("mcp_refusals_total", (("reason", "ORDER_NOT_FOUND"),))] == 1
    for code in codes:
        assert seen[("mcp_refusals_total", (("reason", code),))] >= 1
    assert seen[("mcp_approvals_total", (("outcome", "rejected"),))] == 1
    count = ("mcp_tool_call_duration_seconds_count", (("tool", "get_quote"),))
    assert seen[count] == 2
    assert seen[("mcp_tool_call_duration_seconds_sum", (("tool", "get_quote"),))] > 0
