"""Alerts pushed to every allowlisted chat from the store, rate limited per chat.

Events are written the way any process on the database writes them (audit.system_events), so
the bot sees what `trading-core run` or another server raised, not only its own.
"""

from __future__ import annotations

from datetime import timedelta

from trading_core.adapters.clock import SimulatedClock
from trading_core.adapters.telegram.bot import OperatorBot
from trading_core.domain.state import Severity, SystemEvent
from trading_core.services.container import TradingApp, open_app

from .bot_api_fake import BotApiFake
from .conftest import ALICE, BOB, DESK, SettingsFactory, person_buys


def _event(clock: SimulatedClock, kind: str, severity: Severity, message: str) -> SystemEvent:
    return SystemEvent(
        timestamp=clock.now(),
        event_type=kind,
        component="test",
        severity=severity,
        message=message,
    )


async def test_breaker_kill_and_reconciliation_events_reach_every_allowed_chat_once(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp, clock: SimulatedClock
) -> None:
    await app.store.record_event(_event(clock, "breaker.drawdown", Severity.CRITICAL, "dd 10%"))
    await app.store.record_event(
        _event(clock, "reconciliation.mismatch", Severity.CRITICAL, "BTC differs")
    )
    await app.store.record_event(_event(clock, "orders.routine", Severity.INFO, "not an alert"))

    sent = await bot.push_alerts()
    again = await bot.push_alerts()

    assert (sent, again) == (6, 0)  # two alerts x three chats, each once
    for chat_id in (ALICE["id"], BOB["id"], DESK["id"]):
        texts = [m["text"] for m in fake.to_chat(chat_id)]
        assert texts == [
            "[CRITICAL] breaker.drawdown: dd 10%",
            "[CRITICAL] reconciliation.mismatch: BTC differs",
        ]


async def test_events_from_before_the_bot_started_are_not_replayed(
    app: TradingApp, fake: BotApiFake, clock: SimulatedClock
) -> None:
    await app.store.record_event(_event(clock, "breaker.daily_loss", Severity.CRITICAL, "old"))
    bot = OperatorBot(app)
    await bot.start()
    try:
        assert await bot.push_alerts() == 0
        await app.state.activate_kill_switch(reason="by hand", by="cli:operator")
        assert await bot.push_alerts() == 3
    finally:
        await bot.stop()
    [text] = [m["text"] for m in fake.to_chat(ALICE["id"])]
    assert text.startswith("[CRITICAL] trading_state.state_killed: trading state ACTIVE -> KILLED")


async def test_a_burst_of_alerts_is_cut_to_the_bucket_and_the_rest_summarised(
    bot: OperatorBot, fake: BotApiFake, app: TradingApp, clock: SimulatedClock
) -> None:
    burst = app.settings.telegram.alert_burst
    for n in range(burst + 4):
        severity = Severity.CRITICAL if n == burst + 1 else Severity.WARNING
        await app.store.record_event(_event(clock, "breaker.daily_loss", severity, f"alert {n}"))

    await bot.push_alerts()
    first = [m["text"] for m in fake.to_chat(ALICE["id"])]
    clock.advance(timedelta(seconds=1))
    await bot.push_alerts()  # no token back yet: nothing more
    assert [m["text"] for m in fake.to_chat(ALICE["id"])] == first
    clock.advance(timedelta(seconds=60 / app.settings.telegram.alerts_per_minute))
    await bot.push_alerts()
    texts = [m["text"] for m in fake.to_chat(ALICE["id"])]

    assert first == [f"[warning] breaker.daily_loss: alert {n}" for n in range(burst)]
    [summary] = texts[burst:]
    assert summary.startswith("(4 more alerts suppressed since 12:00:30 UTC; the most severe: ")
    assert f"[CRITICAL] breaker.daily_loss: alert {burst + 1}" in summary
    assert "audit.system_events" in summary
    assert len(fake.to_chat(DESK["id"])) == burst + 1  # each chat has its own bucket


async def test_a_fill_above_the_configured_notional_is_pushed_a_small_one_not(
    settings_factory: SettingsFactory, fake: BotApiFake, app: TradingApp
) -> None:
    watching = await open_app(
        settings_factory(telegram={"alert_fill_notional": "1000"}),
        channel="telegram",
        clock=app.clock,
    )
    bot = OperatorBot(watching)
    await bot.start()
    try:
        await person_buys(app, "0.001")  # ~40 USD
        await person_buys(app, "0.05")  # ~2,000 USD
        assert await bot.push_alerts() == 3
    finally:
        await bot.stop()
        await watching.close()
    [text] = [m["text"] for m in fake.to_chat(BOB["id"])]
    assert text.startswith("[fill] buy 0.05 BTC/USD @ ")
    assert " USD notional, paper" in text
