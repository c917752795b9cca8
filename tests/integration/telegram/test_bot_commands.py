"""The operators' commands over the Bot API: the allowlist, every answer, the trading state.

The acts go through the trading-state service as `trading-core kill-switch` and `state` do, so
what the command line refuses the bot refuses too (a resume never lifts a kill).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.adapters.telegram.bot import OperatorBot
from trading_core.domain.state import TradingState
from trading_core.services.container import TradingApp, open_app
from trading_core.settings import Settings

from .bot_api_fake import BotApiFake
from .conftest import (
    ALICE,
    ALICE_CHAT,
    BOB,
    BOB_CHAT,
    DESK,
    OPERATOR,
    STRANGER,
    STRANGER_CHAT,
    SYMBOL,
    SettingsFactory,
    assistant_asks,
    person_buys,
    position,
)


async def test_a_chat_not_in_the_allowlist_gets_nothing_and_is_logged(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="trading_core.adapters.telegram.bot")
    await fake.push_text(STRANGER_CHAT, STRANGER, "/kill")
    await fake.push_text(STRANGER_CHAT, STRANGER, "/status")

    # Updates are handled in order: once Alice has her answer, the stranger's were handled.
    assert (await fake.reply_to(ALICE_CHAT, ALICE, "/help")).startswith("/status")

    assert fake.to_chat(STRANGER["id"]) == []
    assert app.state.record.state is TradingState.ACTIVE
    ignored = [
        r.getMessage()
        for r in caplog.records
        if "not in telegram.allowed_chat_ids" in r.getMessage()
    ]
    assert len(ignored) == 2
    assert f"chat {STRANGER['id']}" in ignored[0]
    assert "@mallory" in ignored[0]
    # Audited once an hour per chat, not once per message (a stranger cannot flood the audit).
    events = await app.store.list_events(event_type="telegram.unknown_chat")
    assert [e.details["chat_id"] for e in events] == [STRANGER["id"]]


async def test_every_command_answers(bot: OperatorBot, fake: BotApiFake, app: TradingApp) -> None:
    await person_buys(app, "0.02")
    [order] = await app.store.list_orders()
    expected = {
        "/status": f"{SYMBOL} 0.02 @",
        "/profit": "closed trades: 0",
        "/balance": "equity:",
        "/daily 3": "closed-trade P&L per day (UTC), last 3:",
        "/performance": "no closed trades yet",
        "/trades": "no closed trades yet",
        f"/why {order.order_id}": f"by {'cli:operator'}",
        "/regime": f"{SYMBOL}: ",
        "/reload_config": "nothing changed",
        "/help": "/approve ID [CODE]",
        "/approve": "usage: /approve ID",
        "/reject": "usage: /reject ID",
        "/pause": "usage: /pause MINUTES",
        "/start": "to resume trading send /start REASON",
        "/nonsense": "unknown command; /help lists them",
    }
    for command, wanted in expected.items():
        said = await fake.reply_to(ALICE_CHAT, ALICE, command)
        assert wanted in said, (command, said)
    # The command menu Telegram shows is the bot's table.
    assert [c["command"] for c in fake.commands] == [c.name for c in bot.commands]
    assert {
        "status",
        "profit",
        "balance",
        "daily",
        "performance",
        "trades",
        "stop",
        "start",
        "reload_config",
        "help",
        "approve",
        "reject",
        "kill",
        "pause",
        "why",
        "regime",
    } == {c["command"] for c in fake.commands}


async def test_closed_trades_show_in_profit_trades_performance_and_daily(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp, clock: SimulatedClock
) -> None:
    await person_buys(app, "0.02")
    clock.advance(timedelta(seconds=1))
    await app.desk.close_position(SYMBOL, by=OPERATOR, quantity=position(app))

    trades = await fake.reply_to(ALICE_CHAT, ALICE, "/trades 5")
    performance = await fake.reply_to(ALICE_CHAT, ALICE, "/performance")
    profit = await fake.reply_to(ALICE_CHAT, ALICE, "/profit")
    daily = await fake.reply_to(ALICE_CHAT, ALICE, "/daily")

    assert f"{SYMBOL} buy 0.02" in trades, trades
    assert performance.startswith(f"1. {SYMBOL}: -"), performance  # fees and spread: a loss
    assert "(1 trades)" in performance
    assert "closed trades: 1 (0 won)" in profit
    assert "2026-01-05: -" in daily
    assert "(1 trades)" in daily
    # Money is rounded to cents by the one rounding policy.
    amount = performance.split(": ")[1].split(" ")[0]
    exponent = Decimal(amount).as_tuple().exponent
    assert isinstance(exponent, int)
    assert exponent >= -2, amount


async def test_why_gives_the_reasoning_recorded_for_the_order(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp
) -> None:
    approval_id = await assistant_asks(app)
    await app.approvals.approve(approval_id, by=OPERATOR, reason="fine")
    [order] = await app.store.list_orders()

    said = await fake.reply_to(BOB_CHAT, BOB, f"/why {order.client_order_id}")

    assert said.startswith(f"order {order.order_id}"), said
    assert "assistant:desk via telegram: no reason given; approved by cli:operator" in said
    unknown = await fake.reply_to(BOB_CHAT, BOB, "/why ord_nope")
    assert unknown == "no order 'ord_nope' (give an order id or a client order id)"


async def test_kill_halts_cancels_and_flattens_like_the_kill_switch_command(
    settings_factory: SettingsFactory, fake: BotApiFake, app: TradingApp, tmp_path: Path
) -> None:
    flattening = settings_factory(kill_switch={"flatten": "all"})
    killing_app = await open_app(flattening, channel="telegram", clock=app.clock)
    bot = OperatorBot(killing_app)
    await bot.start()
    try:
        await person_buys(killing_app, "0.02")
        assert position(killing_app) == Decimal("0.02")

        said = await fake.reply_to(BOB_CHAT, BOB, "/kill runaway orders")

        assert said.startswith("kill switch ON: KILLED"), said
        assert "open positions now: none" in said
        record = killing_app.state.record
        assert (record.state, record.set_by, record.reason) == (
            TradingState.KILLED,
            f"telegram:{BOB['id']}",
            "runaway orders",
        )
        stored = await killing_app.store.get_state("trading_state")
        assert stored is not None
        assert stored["state"] == "KILLED"
        await app.account.sync()
        assert position(app) == 0  # flattened through the order gate: the shared book is flat
        flattens = await killing_app.store.list_events(event_type="kill_switch.flatten")
        assert flattens, "the flatten is audited"
        # As `trading-core state resume`: a resume never lifts a kill.
        resumed = await fake.reply_to(ALICE_CHAT, ALICE, "/start reviewed")
        assert resumed.startswith("refused [KILL_SWITCH_ACTIVE]"), resumed
        assert "trading-core kill-switch reset" in resumed
        assert killing_app.state.record.state is TradingState.KILLED
    finally:
        await bot.stop()
        await killing_app.close()


async def test_stop_pause_and_start_change_the_shared_state_with_who_did_it(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp, settings: Settings
) -> None:
    stopped = await fake.reply_to(DESK, BOB, "/stop@trading_desk_bot market closed")
    assert stopped.startswith("stopped: HALTED - market closed"), stopped
    # Another process on the database (the CLI, a run) sees it.
    other = await open_app(settings, channel="cli", clock=app.clock)
    try:
        assert other.state.record.state is TradingState.HALTED
        assert other.state.record.set_by == f"telegram:{BOB['id']}"
    finally:
        await other.close()

    not_an_approver = await fake.reply_to(BOB_CHAT, BOB, "/start looked at it")
    bare = await fake.reply_to(ALICE_CHAT, ALICE, "/start")
    assert not_an_approver == "refused: resuming takes an approver (telegram.approver_ids)"
    assert "to resume trading send /start REASON" in bare
    assert app.state.record.state is TradingState.HALTED

    resumed = await fake.reply_to(ALICE_CHAT, ALICE, "/start market open again")
    assert resumed.startswith("resumed: ACTIVE - market open again"), resumed
    assert app.state.record.set_by == f"telegram:{ALICE['id']}"

    paused = await fake.reply_to(BOB_CHAT, BOB, "/pause 15")
    too_long = await fake.reply_to(BOB_CHAT, BOB, "/pause 20000")
    assert "HALTED until 2026-01-05 12:15 UTC" in paused, paused
    assert too_long == "refused: a pause is 1 to 10080 minutes, not 20000"


async def test_reload_config_applies_a_tighter_limit_and_refuses_a_looser_one(
    settings_factory: SettingsFactory, fake: BotApiFake, app: TradingApp, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    limits = config / "risk_limits.toml"
    reloading_app = await open_app(
        settings_factory(config_dir=config), channel="telegram", clock=app.clock
    )
    bot = OperatorBot(reloading_app, reload_settings=lambda: settings_factory(config_dir=config))
    await bot.start()
    try:
        before = reloading_app.limits.effective.max_open_orders
        limits.write_text(f"max_open_orders = {before - 5}\n", encoding="utf-8")

        tightened = await fake.reply_to(ALICE_CHAT, ALICE, "/reload_config")
        limits.write_text(f"max_open_orders = {before}\n", encoding="utf-8")
        loosened = await fake.reply_to(ALICE_CHAT, ALICE, "/reload_config")

        assert tightened == f"applied now: max_open_orders {before} -> {before - 5}", tightened
        assert "max_open_orders" in loosened, loosened
        assert "looser: not applied" in loosened, loosened
        assert reloading_app.limits.effective.max_open_orders == before - 5
        stored = await reloading_app.store.get_risk_limits()
        assert stored["max_open_orders"] == before - 5  # every process adopts it
    finally:
        await bot.stop()
        await reloading_app.close()
