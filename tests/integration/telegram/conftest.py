"""The operators' bot on a scratch embedded database, talking to a local fake of the Bot API.

Three people: Alice (an approver) and Bob (allowed, not an approver) in their private chats and
in the desk's group, and a stranger whose chat is not allowed. The trading clock is simulated
(reproducible synthetic quotes; expiries move only when a test advances it); the HTTP between
the bot and the fake is real.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.adapters.telegram.bot import OperatorBot
from trading_core.domain.order import OrderType, Side
from trading_core.services.container import TradingApp, open_app
from trading_core.services.desk import OrderTicket, PlaceStatus
from trading_core.services.principals import Principal, PrincipalKind
from trading_core.settings import PACKAGED_CONFIG_DIR, Settings, load_settings

from .bot_api_fake import BotApiFake, group_chat, private_chat, user

START = datetime(2026, 1, 5, 12, 0, 30, tzinfo=UTC)
ALICE = user(111_111_111, "alice")
BOB = user(222_222_222, "bob")
STRANGER = user(999_999_999, "mallory")
ALICE_CHAT = private_chat(ALICE)
BOB_CHAT = private_chat(BOB)
STRANGER_CHAT = private_chat(STRANGER)
DESK = group_chat(-1_001_234_567, "Trading desk")
APPROVAL_TTL_SECONDS = 900
SettingsFactory = Callable[..., Settings]


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
async def fake() -> AsyncIterator[BotApiFake]:
    server = await BotApiFake().start()
    # Alice and Bob opened their private chats with the bot long ago (the stranger too: only
    # the allowlist keeps it silent, not Telegram).
    server.started_chats |= {ALICE["id"], BOB["id"], STRANGER["id"]}
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
def settings_factory(tmp_path: Path, fake: BotApiFake) -> SettingsFactory:
    def make(**overrides: Any) -> Settings:
        telegram = {
            "bot_token": fake.token,
            "base_url": fake.base_url,
            "allowed_chat_ids": [ALICE["id"], BOB["id"], DESK["id"]],
            "approver_ids": [ALICE["id"]],
            "poll_timeout_seconds": 5,
            "alert_poll_seconds": 300,  # the tests push alerts themselves (push_alerts)
            **overrides.pop("telegram", {}),
        }
        overrides.setdefault("config_dir", PACKAGED_CONFIG_DIR)
        return load_settings(
            data_dir=tmp_path / "data",
            mcp={"history_bars": 80},
            approvals={"ttl_seconds": APPROVAL_TTL_SECONDS, "assistant_paper_notional": "100"},
            telegram=telegram,
            **overrides,
        )

    return make


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Settings:
    return settings_factory()


@pytest.fixture
async def app(settings: Settings, clock: SimulatedClock) -> AsyncIterator[TradingApp]:
    opened = await open_app(settings, channel="telegram", clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def bot(
    app: TradingApp, fake: BotApiFake, settings_factory: SettingsFactory
) -> AsyncIterator[OperatorBot]:
    # /reload_config re-reads what the test configured (as the CLI re-reads its own flags).
    running = OperatorBot(app, reload_settings=settings_factory)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


ASSISTANT = Principal(name="assistant:desk", kind=PrincipalKind.ASSISTANT)
OPERATOR = Principal(name="cli:operator", kind=PrincipalKind.HUMAN)
SYMBOL = "BTC/USD"
_CODE = re.compile(r"^code for (\S+): (\d{6})$", re.MULTILINE)


async def assistant_asks(app: TradingApp, quantity: str = "0.01") -> str:
    """An assistant's market buy over its paper threshold: it waits for a person; its id."""
    ticket = OrderTicket(
        symbol=SYMBOL, side=Side.BUY, quantity=Decimal(quantity), order_type=OrderType.MARKET
    )
    placed = await app.desk.place(ticket, by=ASSISTANT)
    assert placed.status is PlaceStatus.PENDING_APPROVAL, placed
    assert placed.approval_id is not None
    return placed.approval_id


async def person_buys(app: TradingApp, quantity: str) -> None:
    """A person's own market buy (no approval), filled at once by the paper broker."""
    ticket = OrderTicket(
        symbol=SYMBOL, side=Side.BUY, quantity=Decimal(quantity), order_type=OrderType.MARKET
    )
    placed = await app.desk.place(ticket, by=OPERATOR)
    assert placed.status is PlaceStatus.FILLED, placed


def code_in(text: str, approval_id: str) -> str:
    found = _CODE.search(text)
    assert found is not None, text
    assert found.group(1) == approval_id
    return found.group(2)


def position(app: TradingApp) -> Decimal:
    return app.account.portfolio.position(SYMBOL).quantity
