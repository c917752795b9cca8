"""Approving over Telegram: a one-time code to the approver, then the CLI's path, guardrails again.

An assistant's order waits for a person (``assistant_paper_notional`` is lowered to 100 in these
settings). Alice is an approver; Bob is allowed in the chat but is not one.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from trading_core.adapters.clock import SimulatedClock
from trading_core.adapters.telegram.bot import OperatorBot
from trading_core.domain.approval import ApprovalStatus
from trading_core.services.container import TradingApp, open_app

from .bot_api_fake import BotApiFake
from .conftest import (
    ALICE,
    ALICE_CHAT,
    APPROVAL_TTL_SECONDS,
    BOB,
    BOB_CHAT,
    DESK,
    SettingsFactory,
    assistant_asks,
    code_in,
    position,
)


async def _code(fake: BotApiFake, approval_id: str) -> str:
    # In the private chat both arrive: the code, then the acknowledgement.
    before = len(fake.to_chat(ALICE["id"]))
    await fake.push_text(ALICE_CHAT, ALICE, f"/approve {approval_id}")
    *_, code_message, ack = await fake.wait_for(
        lambda m: m["chat_id"] == ALICE["id"], count=before + 2
    )
    assert "sent to you in a private chat" in ack["text"], ack
    return code_in(code_message["text"], approval_id)


async def test_approve_without_a_code_sends_one_and_the_right_code_carries_the_order_out(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp
) -> None:
    approval_id = await assistant_asks(app)
    code = await _code(fake, approval_id)
    assert (await app.approvals.get(approval_id)).status is ApprovalStatus.PENDING
    assert position(app) == 0

    said = await fake.reply_to(ALICE_CHAT, ALICE, f"/approve {approval_id} {code}")

    assert f"{approval_id} executed" in said, said
    assert "result: filled" in said
    done = await app.approvals.get(approval_id)
    assert done.status is ApprovalStatus.EXECUTED
    assert done.decided_by == f"telegram:{ALICE['id']}"
    await app.account.sync()
    assert position(app) == Decimal("0.01")
    rows = await app.store.list_decisions()
    [executed] = [r for r in rows if "approved by" in r.reasoning]
    assert f"approved by telegram:{ALICE['id']}" in executed.reasoning
    assert executed.order_id == done.result["order"]["order_id"]


async def test_a_used_code_cannot_approve_again(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp
) -> None:
    approval_id = await assistant_asks(app)
    code = await _code(fake, approval_id)
    assert "executed" in await fake.reply_to(ALICE_CHAT, ALICE, f"/approve {approval_id} {code}")
    orders = await app.store.list_orders()

    again = await fake.reply_to(ALICE_CHAT, ALICE, f"/approve {approval_id} {code}")

    assert again.startswith("refused"), again
    assert "already executed (single use)" in again
    assert await app.store.list_orders() == orders


async def test_a_wrong_code_is_refused_and_burnt_after_the_last_try(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp
) -> None:
    approval_id = await assistant_asks(app)
    code = await _code(fake, approval_id)
    wrong = "000000" if code != "000000" else "111111"

    first = await fake.reply_to(ALICE_CHAT, ALICE, f"/approve {approval_id} {wrong}")
    second = await fake.reply_to(ALICE_CHAT, ALICE, f"/approve {approval_id} {wrong}")
    third = await fake.reply_to(ALICE_CHAT, ALICE, f"/approve {approval_id} {wrong}")
    late_right = await fake.reply_to(ALICE_CHAT, ALICE, f"/approve {approval_id} {code}")

    assert first == f"refused: wrong code for {approval_id} (2 tries left)"
    assert second == f"refused: wrong code for {approval_id} (1 tries left)"
    assert "the code is burnt" in third
    assert "no valid code" in late_right  # burnt means burnt, even for the right code
    assert (await app.approvals.get(approval_id)).status is ApprovalStatus.PENDING
    assert await app.store.list_orders() == []


async def test_a_code_is_bound_to_the_approver_it_was_sent_to(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp
) -> None:
    approval_id = await assistant_asks(app)
    code = await _code(fake, approval_id)

    bobs_try = await fake.reply_to(BOB_CHAT, BOB, f"/approve {approval_id} {code}")
    bobs_ask = await fake.reply_to(BOB_CHAT, BOB, f"/approve {approval_id}")

    assert bobs_try == "refused: you are not an approver (telegram.approver_ids)"
    assert bobs_ask == bobs_try
    assert not [m for m in fake.to_chat(BOB["id"]) if m["text"].startswith("code for")]
    assert (await app.approvals.get(approval_id)).status is ApprovalStatus.PENDING


async def test_an_approval_that_expired_is_refused_even_with_its_code(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp, clock: SimulatedClock
) -> None:
    approval_id = await assistant_asks(app)
    code = await _code(fake, approval_id)
    clock.advance(timedelta(seconds=APPROVAL_TTL_SECONDS + 1))

    said = await fake.reply_to(ALICE_CHAT, ALICE, f"/approve {approval_id} {code}")
    asked_again = await fake.reply_to(ALICE_CHAT, ALICE, f"/approve {approval_id}")

    assert said.startswith("refused [APPROVAL_EXPIRED]"), said
    assert asked_again.startswith("refused [APPROVAL_EXPIRED]"), asked_again
    assert (await app.approvals.get(approval_id)).status is ApprovalStatus.EXPIRED
    assert await app.store.list_orders() == []


async def test_a_code_expires_before_its_approval_does(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp, clock: SimulatedClock
) -> None:
    approval_id = await assistant_asks(app)
    code = await _code(fake, approval_id)
    clock.advance(timedelta(seconds=app.settings.telegram.code_ttl_seconds))

    said = await fake.reply_to(ALICE_CHAT, ALICE, f"/approve {approval_id} {code}")

    assert said == f"refused: the code expired; send /approve {approval_id} for a new code"
    assert (await app.approvals.get(approval_id)).status is ApprovalStatus.PENDING


async def test_an_order_the_guardrails_refuse_at_approval_time_is_reported_not_carried_out(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp
) -> None:
    approval_id = await assistant_asks(app)
    code = await _code(fake, approval_id)
    paused = await fake.reply_to(BOB_CHAT, BOB, "/pause 30 news due")
    assert paused.startswith("paused: HALTED"), paused

    said = await fake.reply_to(ALICE_CHAT, ALICE, f"/approve {approval_id} {code}")

    assert f"{approval_id} refused" in said, said
    assert "NOT carried out: the guardrails refused it at approval time" in said
    assert "TRADING_PAUSED" in said
    assert (await app.approvals.get(approval_id)).status is ApprovalStatus.REFUSED
    await app.account.sync()
    assert position(app) == 0


async def test_asking_in_a_group_sends_the_code_privately_never_to_the_group(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp
) -> None:
    approval_id = await assistant_asks(app)
    # Alice has never opened a private chat with the bot: Telegram refuses the code (403).
    fake.started_chats.discard(ALICE["id"])
    refused = await fake.reply_to(DESK, ALICE, f"/approve@trading_desk_bot {approval_id}")
    assert refused.startswith("cannot send you a code: open a private chat"), refused
    await fake.reply_to(ALICE_CHAT, ALICE, "/help")  # she opens one

    ack = await fake.reply_to(DESK, ALICE, f"/approve {approval_id}")

    assert "sent to you in a private chat" in ack
    assert not any(m["text"].startswith("code for") for m in fake.to_chat(DESK["id"]))
    [private] = [m for m in fake.to_chat(ALICE["id"]) if m["text"].startswith("code for")]
    code = code_in(private["text"], approval_id)
    said = await fake.reply_to(DESK, ALICE, f"/approve {approval_id} {code}")
    assert f"{approval_id} executed" in said


async def test_reject_needs_no_code_and_records_who(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp
) -> None:
    approval_id = await assistant_asks(app)

    said = await fake.reply_to(BOB_CHAT, BOB, f"/reject {approval_id} too big for today")

    assert said.startswith(f"rejected {approval_id}"), said
    done = await app.approvals.get(approval_id)
    assert (done.status, done.decided_by, done.decision_reason) == (
        ApprovalStatus.REJECTED,
        f"telegram:{BOB['id']}",
        "too big for today",
    )
    late = await fake.reply_to(ALICE_CHAT, ALICE, f"/approve {approval_id}")
    assert late.startswith("refused [APPROVAL_ALREADY_DECIDED]"), late
    assert await app.store.list_orders() == []


async def test_the_code_flow_holds_on_both_backends_and_an_edit_never_approves(
    db_url: str, settings_factory: SettingsFactory, fake: BotApiFake, clock: SimulatedClock
) -> None:
    settings = settings_factory(db_url=db_url)
    app = await open_app(settings, channel="telegram", clock=clock)
    bot = OperatorBot(app, reload_settings=lambda: settings)
    await bot.start()
    try:
        approval_id = await assistant_asks(app)
        code = await _code(fake, approval_id)
        # An edited message (here: the same command, edited in) is not a new command.
        edit = await fake.push_text(
            ALICE_CHAT, ALICE, f"/approve {approval_id} {code}", edited=True
        )
        await fake.wait_confirmed(edit["update_id"])
        assert (await fake.reply_to(ALICE_CHAT, ALICE, "/help")).startswith("/status")
        assert (await app.approvals.get(approval_id)).status is ApprovalStatus.PENDING

        said = await fake.reply_to(ALICE_CHAT, ALICE, f"/approve {approval_id} {code}")

        assert f"{approval_id} executed" in said, said
        assert app.store.url.startswith(db_url.split(":")[0])
        [order] = await app.store.list_orders()
        assert order.status.value == "filled"
    finally:
        await bot.stop()
        await app.close()
