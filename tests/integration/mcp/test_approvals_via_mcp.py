"""Approvals through the MCP layer fail closed: only a person's yes, given in time, executes.

The assistant (a client without forms, the ``client`` fixture) asks for an order above the paper
approval threshold; a person answers in an elicitation form (a client built here with a handler
that answers like the person would) in both protocol eras, or out of band with the
``trading-core approvals`` command. Every answer other than a timely yes leaves nothing placed,
and a yes still passes every guardrail again at approval time.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import mcp_types
import pytest
from fastmcp import Client, FastMCP
from fastmcp.client.client import CallToolResult
from fastmcp.client.elicitation import ElicitRequestParams, ElicitResult
from mcp.shared.exceptions import MCPError
from mcp.types import TextContent
from mcp_types import ElicitRequestFormParams

from mcp_servers.runtime import Runtime
from mcp_servers.suite import build_suite
from trading_core.adapters.clock import SimulatedClock, SystemClock
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings

from .conftest import advance

SYMBOL = "BTC/USD"
TICK = Decimal("0.1")
HISTORY_BARS = 60
"""A short synthetic history: building it dominates opening the app, and approvals never read it."""

Answer = Literal["yes", "no", "decline", "cancel", "raise", "hang", "text"]


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(mcp={"history_bars": HISTORY_BARS})


@dataclass
class Person:
    """An elicitation handler that answers like a person would, and remembers being asked."""

    answer: Answer
    text: object = None
    """With ``answer="text"``: the value put in the form's field instead of a JSON boolean."""
    asked: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(
        self,
        message: str,
        response_type: type[Any] | None,
        params: ElicitRequestParams,
        context: Any,
    ) -> Any:
        self.asked.append(message)
        if self.answer == "raise":
            raise RuntimeError("the form crashed")
        if self.answer == "hang":
            await self.release.wait()  # the person walked away; released when the test ends
            return ElicitResult(action="cancel")
        if self.answer in ("decline", "cancel"):
            return ElicitResult(action=self.answer)
        assert isinstance(params, ElicitRequestFormParams)
        # Both eras ask for one boolean field, "approve".
        assert set(params.requested_schema.get("properties", {})) == {"approve"}
        if self.answer == "text":
            return ElicitResult(action="accept", content={"approve": self.text})
        return {"approve": self.answer == "yes"}


def person_client(suite: FastMCP[Any], mode: str, person: Person | None) -> Client[Any]:
    """The client in front of the person: it shows forms only when it has a handler."""
    return Client(suite, mode=mode, elicitation_handler=person)


def text(result: CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, TextContent))


async def ok(client: Client[Any], tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await client.call_tool(tool, args or {}, raise_on_error=False)
    assert not result.is_error, (tool, text(result))
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


async def refused(client: Client[Any], tool: str, args: dict[str, Any]) -> str:
    """Call ``tool``, which must fail; returns the error text (``CODE: message``)."""
    result = await client.call_tool(tool, args, raise_on_error=False)
    assert result.is_error, result.structured_content
    return text(result)


async def big_order(client: Client[Any], runtime: Runtime, cid: str = "big") -> dict[str, Any]:
    """A marketable buy above the assistant's paper threshold (but within every guardrail)."""
    quote = await ok(client, "get_quote", {"symbol": SYMBOL})
    limit = (Decimal(quote["ask"]) * Decimal("1.02")).quantize(TICK)
    args = {
        "symbol": SYMBOL,
        "side": "buy",
        "quantity": "0.05",
        "limit_price": str(limit),
        "client_order_id": cid,
    }
    placed = await ok(client, "place_order", args)
    threshold = runtime.settings.approvals.assistant_paper_notional
    assert Decimal(placed["notional"] or 0) > threshold or placed["duplicate"], placed
    return placed


async def approval(client: Client[Any], approval_id: str) -> dict[str, Any]:
    views = (await ok(client, "list_approvals", {}))["approvals"]
    found: list[dict[str, Any]] = [v for v in views if v["approval_id"] == approval_id]
    assert len(found) == 1, views
    return found[0]


@dataclass(frozen=True)
class Account:
    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    cash: Decimal
    positions_value: Decimal


async def account(client: Client[Any]) -> Account:
    summary = await ok(client, "get_portfolio_summary")
    return Account(
        orders=(await ok(client, "list_orders", {}))["orders"],
        fills=(await ok(client, "get_trade_history", {}))["fills"],
        cash=Decimal(summary["cash"]),
        positions_value=Decimal(summary["positions_value"]),
    )


async def assert_nothing_placed(client: Client[Any], runtime: Runtime, cid: str = "big") -> None:
    """No order for ``cid`` anywhere, no fill, cash untouched."""
    now = await account(client)
    app = await runtime.app()
    assert await app.store.get_order_by_client_id(cid) is None
    assert [o for o in now.orders if o["client_order_id"] == cid] == []
    assert now.fills == []
    assert now.cash == app.account.initial_cash
    assert now.positions_value == 0


# --- asking -----------------------------------------------------------------------------------


async def test_an_order_above_the_threshold_waits_for_a_person(
    client: Client[Any], runtime: Runtime
) -> None:
    placed = await big_order(client, runtime)

    assert placed["status"] == "pending_approval"
    approval_id = placed["approval_id"]
    assert approval_id
    assert approval_id in placed["message"]
    assert placed["order"] is None
    assert placed["fills"] == []
    await assert_nothing_placed(client, runtime)
    view = await approval(client, approval_id)
    assert (view["status"], view["kind"], view["requested_by"]) == (
        "pending",
        "place_order",
        "assistant:local",
    )
    [row] = (await ok(client, "get_decisions", {}))["decisions"]
    assert row["decision_type"] == "approval"
    assert row["principal"] == "assistant:local"
    assert approval_id in row["final_action"]
    # The threshold is the dividing line: a small order from the same assistant goes through.
    bid = (Decimal(placed["reference_price"]) * Decimal("0.99")).quantize(TICK)
    small = await ok(
        client,
        "place_order",
        {"symbol": SYMBOL, "side": "buy", "quantity": "0.005", "limit_price": str(bid)},
    )
    assert small["status"] == "accepted", small


async def test_the_same_client_order_id_while_pending_is_the_same_approval(
    client: Client[Any], runtime: Runtime
) -> None:
    first = await big_order(client, runtime)
    second = await big_order(client, runtime)

    assert second["status"] == "pending_approval"
    assert second["approval_id"] == first["approval_id"]
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    pending = (await ok(client, "list_approvals", {"status": "pending"}))["approvals"]
    assert [v["approval_id"] for v in pending] == [first["approval_id"]]
    await assert_nothing_placed(client, runtime)


# --- a person answers in the client -----------------------------------------------------------


async def test_a_persons_yes_executes_the_order_exactly_once(
    client: Client[Any], suite: FastMCP[Any], runtime: Runtime, mode: str
) -> None:
    approval_id = (await big_order(client, runtime))["approval_id"]
    person = Person("yes")

    async with person_client(suite, mode, person) as in_front:
        done = await ok(in_front, "approve_order", {"approval_id": approval_id})
        again = await ok(in_front, "approve_order", {"approval_id": approval_id})

    assert done["status"] == "executed", done
    assert done["decided_by"].startswith("human:")
    assert done["result"]["status"] == "filled"
    assert len(person.asked) == 1
    assert "buy 0.05 BTC/USD" in person.asked[0]
    now = await account(client)
    [order] = now.orders
    assert (order["client_order_id"], order["status"]) == ("big", "filled")
    assert order["order_id"] == done["result"]["order"]["order_id"]
    assert {f["order_id"] for f in now.fills} == {order["order_id"]}
    assert sum(Decimal(f["quantity"]) for f in now.fills) == Decimal("0.05")
    rows = (await ok(client, "get_decisions", {}))["decisions"]
    [executed] = [r for r in rows if "approved by" in r["reasoning"]]
    assert f"approved by {done['decided_by']}" in executed["reasoning"]
    assert (executed["decision_type"], executed["principal"]) == ("entry", "assistant:local")
    assert executed["order_id"] == order["order_id"]
    # Single use: the second approve asks nobody and sends nothing.
    assert again["status"] == "executed"
    assert again["message"] == "already executed (single use)"
    assert len(person.asked) == 1
    replay = await big_order(client, runtime)
    assert replay["duplicate"] is True
    assert replay["order"]["order_id"] == order["order_id"]
    assert await account(client) == now


@pytest.mark.parametrize("answer", ["no", "decline"])
async def test_a_persons_no_rejects_it(
    client: Client[Any], suite: FastMCP[Any], runtime: Runtime, mode: str, answer: Answer
) -> None:
    approval_id = (await big_order(client, runtime))["approval_id"]
    person = Person(answer)

    async with person_client(suite, mode, person) as in_front:
        view = await ok(in_front, "approve_order", {"approval_id": approval_id})

    assert view["status"] == "rejected"
    assert view["decided_by"].startswith("human:")
    assert len(person.asked) == 1
    assert (await approval(client, approval_id))["status"] == "rejected"
    await assert_nothing_placed(client, runtime)


async def test_a_dismissed_form_leaves_it_pending(
    client: Client[Any], suite: FastMCP[Any], runtime: Runtime, mode: str
) -> None:
    approval_id = (await big_order(client, runtime))["approval_id"]
    person = Person("cancel")

    async with person_client(suite, mode, person) as in_front:
        error = await refused(in_front, "approve_order", {"approval_id": approval_id})

    assert error.startswith("HUMAN_APPROVAL_REQUIRED:")
    assert len(person.asked) == 1
    assert (await approval(client, approval_id))["status"] == "pending"
    await assert_nothing_placed(client, runtime)


@pytest.mark.parametrize("text", ["yes", "true", "True", "on", "1", 1, "approve"])
async def test_only_a_json_true_approves_not_a_word_that_means_yes(
    client: Client[Any], suite: FastMCP[Any], runtime: Runtime, mode: str, text: object
) -> None:
    approval_id = (await big_order(client, runtime))["approval_id"]
    person = Person("text", text=text)

    async with person_client(suite, mode, person) as in_front:
        error = await refused(in_front, "approve_order", {"approval_id": approval_id})

    assert error.startswith("HUMAN_APPROVAL_REQUIRED:")
    assert "not a JSON boolean" in error
    assert len(person.asked) == 1
    assert (await approval(client, approval_id))["status"] == "pending"
    await assert_nothing_placed(client, runtime)


async def test_a_client_without_forms_fails_closed_and_says_how_to_approve(
    client: Client[Any], runtime: Runtime
) -> None:
    approval_id = (await big_order(client, runtime))["approval_id"]

    error = await refused(client, "approve_order", {"approval_id": approval_id})

    assert error.startswith("HUMAN_APPROVAL_REQUIRED:")
    assert f"trading-core approvals approve {approval_id}" in error
    assert (await approval(client, approval_id))["status"] == "pending"
    await assert_nothing_placed(client, runtime)


async def test_a_form_that_crashes_is_not_a_yes(
    client: Client[Any], suite: FastMCP[Any], runtime: Runtime, mode: str
) -> None:
    approval_id = (await big_order(client, runtime))["approval_id"]
    person = Person("raise")

    async with person_client(suite, mode, person) as in_front:
        if mode == "legacy":
            error = await refused(in_front, "approve_order", {"approval_id": approval_id})
            assert error.startswith("HUMAN_APPROVAL_REQUIRED:")
        else:
            # 2026 era: the client fails its own form and never sends the retry.
            with pytest.raises(MCPError, match="the form crashed"):
                await in_front.call_tool("approve_order", {"approval_id": approval_id})

    assert len(person.asked) == 1
    assert (await approval(client, approval_id))["status"] == "pending"
    await assert_nothing_placed(client, runtime)


async def test_a_form_nobody_answers_is_not_a_yes(
    settings_factory: Callable[..., Settings], clock: SimulatedClock, mode: str
) -> None:
    patient = settings_factory(
        approvals={"elicitation_timeout_seconds": 0.5}, mcp={"history_bars": HISTORY_BARS}
    )
    runtime = Runtime(patient, clock=clock)
    suite = build_suite(runtime)
    person = Person("hang")
    try:
        async with Client(suite, mode=mode) as assistant:
            approval_id = (await big_order(assistant, runtime))["approval_id"]
            async with person_client(suite, mode, person) as in_front:
                if mode == "legacy":
                    # The server waits for the answer only so long; then it is a no.
                    started = asyncio.get_running_loop().time()
                    error = await refused(in_front, "approve_order", {"approval_id": approval_id})
                    waited = asyncio.get_running_loop().time() - started
                    assert error.startswith("HUMAN_APPROVAL_REQUIRED:")
                    assert "no answer within 0.5 s" in error
                    assert 0.5 <= waited < 10
                    assert len(person.asked) == 1
                else:
                    # 2026 era: the server holds nothing open; the form travels in the result,
                    # and a client that never comes back with an answer has decided nothing.
                    first = await in_front.session.call_tool(
                        "approve_order", {"approval_id": approval_id}, allow_input_required=True
                    )
                    assert isinstance(first, mcp_types.InputRequiredResult)
                    assert first.input_requests is not None
                    assert list(first.input_requests)
                person.release.set()
            assert (await approval(assistant, approval_id))["status"] == "pending"
            await assert_nothing_placed(assistant, runtime)
    finally:
        person.release.set()
        await runtime.close()


# --- what a yes can still not do ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("tighten", "args", "code"),
    [
        ("activate_kill_switch", {"reason": "red team"}, "KILL_SWITCH_ACTIVE"),
        ("pause_trading", {"reason": "news", "minutes": 30}, "TRADING_PAUSED"),
    ],
)
async def test_guardrails_run_again_when_a_person_approves(
    client: Client[Any],
    suite: FastMCP[Any],
    runtime: Runtime,
    mode: str,
    tighten: str,
    args: dict[str, Any],
    code: str,
) -> None:
    approval_id = (await big_order(client, runtime))["approval_id"]
    await ok(client, tighten, args)
    person = Person("yes")

    async with person_client(suite, mode, person) as in_front:
        view = await ok(in_front, "approve_order", {"approval_id": approval_id})

    assert len(person.asked) == 1
    assert view["status"] == "refused", view
    assert view["result"]["status"] == "rejected"
    assert code in {v["code"] for v in view["result"]["violations"]}
    now = await account(client)
    assert now.fills == []
    assert now.positions_value == 0
    assert [o["status"] for o in now.orders] == ["rejected"]  # refused before it left
    assert (await approval(client, approval_id))["status"] == "refused"


async def test_an_expired_approval_cannot_be_approved(
    client: Client[Any], suite: FastMCP[Any], runtime: Runtime, clock: SimulatedClock, mode: str
) -> None:
    approval_id = (await big_order(client, runtime))["approval_id"]
    advance(clock, runtime.settings.approvals.ttl_seconds + 1)

    expired = (await ok(client, "list_approvals", {"status": "expired"}))["approvals"]
    person = Person("yes")
    async with person_client(suite, mode, person) as in_front:
        late_approve = await refused(in_front, "approve_order", {"approval_id": approval_id})
    late_reject = await refused(client, "reject_order", {"approval_id": approval_id})

    assert [v["approval_id"] for v in expired] == [approval_id]
    assert late_approve.startswith("APPROVAL_EXPIRED:"), late_approve
    assert person.asked == []
    assert late_reject.startswith("APPROVAL_EXPIRED:")
    await assert_nothing_placed(client, runtime)


async def test_the_assistant_can_reject_without_a_person(
    client: Client[Any], suite: FastMCP[Any], runtime: Runtime, mode: str
) -> None:
    approval_id = (await big_order(client, runtime))["approval_id"]

    view = await ok(client, "reject_order", {"approval_id": approval_id, "reason": "changed mind"})

    assert view["status"] == "rejected"
    assert (view["decided_by"], view["decision_reason"]) == ("assistant:local", "changed mind")
    person = Person("yes")
    async with person_client(suite, mode, person) as in_front:
        after = await ok(in_front, "approve_order", {"approval_id": approval_id})
    assert after["status"] == "rejected"
    assert person.asked == []
    await assert_nothing_placed(client, runtime)


# --- loosening: resume and limits --------------------------------------------------------------


async def test_resuming_after_a_pause_needs_a_persons_yes(
    client: Client[Any], suite: FastMCP[Any], mode: str
) -> None:
    await ok(client, "pause_trading", {"reason": "news", "minutes": 30})

    error = await refused(client, "resume_trading", {"reason": "news is out"})
    still = await ok(client, "get_trading_state")
    person = Person("yes")
    async with person_client(suite, mode, person) as in_front:
        view = await ok(in_front, "resume_trading", {"reason": "news is out"})
    state = await ok(client, "get_trading_state")

    assert error.startswith("HUMAN_APPROVAL_REQUIRED:")
    assert still["record"]["state"] == "HALTED"
    assert still["trading_allowed"] is False
    assert view["status"] == "executed"
    assert view["decided_by"].startswith("human:")
    assert len(person.asked) == 1
    assert state["record"]["state"] == "ACTIVE"
    assert state["trading_allowed"] is True


def effective(limits: dict[str, Any], key: str) -> Decimal:
    [info] = [i for i in limits["limits"] if i["key"] == key]
    return Decimal(str(info["effective"]))


async def test_limits_loosen_only_with_a_person_and_never_past_the_hard_cap(
    client: Client[Any], suite: FastMCP[Any], mode: str
) -> None:
    key = "max_order_notional_pct"
    cap = Decimal(str((await ok(client, "set_risk_limit", {"key": key, "value": "2"}))["hard_cap"]))
    assert effective(await ok(client, "get_risk_limits"), key) == 2  # tightening: at once

    unanswered = await refused(client, "set_risk_limit", {"key": key, "value": "4"})
    assert unanswered.startswith("HUMAN_APPROVAL_REQUIRED:"), unanswered
    assert "trading-core approvals approve" in unanswered
    assert effective(await ok(client, "get_risk_limits"), key) == 2

    person = Person("yes")
    async with person_client(suite, mode, person) as in_front:
        raised = await ok(in_front, "set_risk_limit", {"key": key, "value": "4"})
        beyond = await refused(in_front, "set_risk_limit", {"key": key, "value": str(cap + 1)})

    assert raised["status"] == "executed", raised
    assert raised["approval"]["decided_by"].startswith("human:")
    assert effective(await ok(client, "get_risk_limits"), key) == 4
    assert beyond.startswith("RISK_LIMIT_REFUSED:")
    assert len(person.asked) == 1  # nobody is even asked about a value past the cap
    assert effective(await ok(client, "get_risk_limits"), key) == 4


# --- out of band: the command line -------------------------------------------------------------


@pytest.fixture
async def wall_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Runs on the system clock: the CLI process checks expiry and prices at real time."""
    runtime = Runtime(settings, clock=SystemClock())
    yield runtime
    await runtime.close()


async def cli(settings: Settings, *args: str) -> tuple[int, str, str]:
    """``trading-core approvals ...`` in its own process, on the same data directory."""
    env = os.environ | {
        "TRADING_CONFIG_DIR": str(PACKAGED_CONFIG_DIR),
        "TRADING_MCP__HISTORY_BARS": str(settings.mcp.history_bars),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trading_core.cli",
        "approvals",
        *args,
        "--data-dir",
        str(settings.data_dir),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.e2e
async def test_a_person_approves_out_of_band_with_the_cli(
    wall_runtime: Runtime, settings: Settings, mode: str
) -> None:
    suite = build_suite(wall_runtime)
    async with Client(suite, mode=mode) as assistant:
        placed = await big_order(assistant, wall_runtime)
        approval_id = placed["approval_id"]
        assert placed["status"] == "pending_approval"

        code, out, err = await cli(settings, "approve", approval_id, "--reason", "looked fine")

        assert code == 0, (out, err)
        assert approval_id in out
        assert "executed" in out
        view = await approval(assistant, approval_id)
        assert view["status"] == "executed"
        assert view["decided_by"].startswith("cli:")
        now = await account(assistant)
        [order] = now.orders
        assert (order["client_order_id"], order["status"]) == ("big", "filled")
        assert {f["order_id"] for f in now.fills} == {order["order_id"]}
        assert now.positions_value > 0  # this process adopted the CLI's fill
        rows = (await ok(assistant, "get_decisions", {}))["decisions"]
        [executed] = [r for r in rows if "approved by" in r["reasoning"]]
        assert f"approved by {view['decided_by']}" in executed["reasoning"]
        assert executed["order_id"] == order["order_id"]

        code, out, err = await cli(settings, "approve", approval_id)

        assert code == 2, (out, err)
        assert "APPROVAL_ALREADY_DECIDED" in err
        later = await account(assistant)
        # The marks move with the wall clock; orders, fills and cash must not move at all.
        assert (later.orders, later.fills, later.cash) == (now.orders, now.fills, now.cash)


# --- review findings: each a way a client could get more than a person agreed to ----------


async def test_an_operator_can_refuse_every_in_band_yes(
    settings_factory: Callable[..., Settings], clock: SimulatedClock, mode: str
) -> None:
    runtime = Runtime(
        settings_factory(mcp={"history_bars": 60}, approvals={"in_band": False}), clock=clock
    )
    person = Person("yes")
    try:
        async with person_client(build_suite(runtime), mode, person) as client:
            approval_id = (await big_order(client, runtime))["approval_id"]
            answer = await refused(client, "approve_order", {"approval_id": approval_id})
            pending = await ok(client, "list_approvals", {"status": "pending"})
            await assert_nothing_placed(client, runtime)
    finally:
        await runtime.close()
    assert answer.startswith("HUMAN_APPROVAL_REQUIRED:")
    assert "only out of band" in answer
    assert person.asked == []  # the form is not even shown
    assert [a["approval_id"] for a in pending["approvals"]] == [approval_id]


@pytest.mark.parametrize("change", ["halt", "breaker_floor"])
async def test_a_resume_approved_after_the_state_changed_is_refused(
    client: Client[Any], suite: FastMCP[Any], runtime: Runtime, mode: str, change: str
) -> None:
    await ok(client, "pause_trading", {"reason": "coffee", "minutes": 1})
    await refused(client, "resume_trading", {"reason": "just the coffee pause"})  # no form
    stale = (await ok(client, "list_approvals", {"status": "pending"}))["approvals"][0]
    app = await runtime.app()
    if change == "halt":
        await app.state.halt(reason="repeated executions", by="risk.throttles")
    else:  # a daily loss of 3 %: a REDUCING floor set under the pause (the pause stays)
        await app.state.evaluate(lambda: (Decimal(-3), Decimal(0)))
    before = (await ok(client, "get_trading_state"))["record"]
    person = Person("yes")
    async with person_client(suite, mode, person) as in_front:
        view = await ok(in_front, "approve_order", {"approval_id": stale["approval_id"]})
        state = await ok(in_front, "get_trading_state")
    assert view["status"] == "refused"
    assert view["result"]["code"] == "STATE_CHANGED"
    assert state["record"] == before  # nothing lifted: not the halt, not the floor
    assert state["record"]["state"] == "HALTED"


@pytest.mark.parametrize("cid", ["abcdefabcdef-8", "kill-flatten-0123456789abcdef"])
async def test_an_assistant_cannot_take_an_id_of_trading_cores_form(
    client: Client[Any], runtime: Runtime, cid: str
) -> None:
    quote = await ok(client, "get_quote", {"symbol": SYMBOL})
    placed = await ok(
        client,
        "place_order",
        {
            "symbol": SYMBOL,
            "side": "buy",
            "quantity": "0.001",
            "limit_price": quote["bid"],
            "client_order_id": cid,
        },
    )
    assert placed["status"] == "rejected"
    assert [v["code"] for v in placed["violations"]] == ["CLIENT_ORDER_ID_RESERVED"]
    app = await runtime.app()
    assert await app.store.get_order_by_client_id(cid) is None  # nothing left to squat on
    rows = await app.store.list_decisions()
    assert rows[-1].decision_type == "rejected"
    assert rows[-1].risk_check["code"] == "CLIENT_ORDER_ID_RESERVED"


async def test_a_different_raise_of_the_same_limit_is_a_different_approval(
    client: Client[Any],
) -> None:
    key = "max_order_notional_pct"
    await ok(client, "set_risk_limit", {"key": key, "value": "1"})
    await refused(client, "set_risk_limit", {"key": key, "value": "4"})
    await refused(client, "set_risk_limit", {"key": key, "value": "2"})
    await refused(client, "set_risk_limit", {"key": key, "value": "2"})  # the same one again
    pending = (await ok(client, "list_approvals", {"status": "pending"}))["approvals"]
    assert sorted(a["summary"] for a in pending) == [
        f"raise {key} from 1 to 2",
        f"raise {key} from 1 to 4",
    ]
