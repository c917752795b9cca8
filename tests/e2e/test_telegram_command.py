"""`trading-core telegram` as an operator runs it: a subprocess long-polling a local fake of the
Bot API, or a one-line refusal when it could never answer anyone."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from trading_core.settings import PACKAGED_CONFIG_DIR

from .conftest import RunCli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "telegram"))
from bot_api_fake import BotApiFake, private_chat, user

pytestmark = pytest.mark.e2e

OPERATOR = user(424_242_424, "operator")
TIMEOUT = 90


@pytest.fixture
async def fake() -> AsyncIterator[BotApiFake]:
    server = await BotApiFake().start()
    try:
        yield server
    finally:
        await server.close()


def test_without_a_token_it_refuses_to_start_in_one_line(run_cli: RunCli) -> None:
    done = run_cli("telegram", env={"TRADING_TELEGRAM__ALLOWED_CHAT_IDS": "[1]"})

    assert done.returncode == 2, done
    assert done.stderr.strip().splitlines() == [
        "error [CONFIGURATION_ERROR]: no Telegram bot token: set TRADING_TELEGRAM__BOT_TOKEN "
        "(BotFather's /newbot gives one)"
    ]


def test_without_an_allowed_chat_it_refuses_to_start_in_one_line(run_cli: RunCli) -> None:
    done = run_cli("telegram", env={"TRADING_TELEGRAM__BOT_TOKEN": "123:abc"})

    assert done.returncode == 2, done
    [line] = done.stderr.strip().splitlines()
    assert "no chat may use the bot: set TRADING_TELEGRAM__ALLOWED_CHAT_IDS" in line


def test_a_bot_api_it_cannot_reach_is_refused_in_one_line(run_cli: RunCli) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = run_cli(
        "telegram",
        env={
            "TRADING_TELEGRAM__BOT_TOKEN": "123:secret-token",
            "TRADING_TELEGRAM__ALLOWED_CHAT_IDS": "[1]",
            "TRADING_TELEGRAM__BASE_URL": f"http://127.0.0.1:{port}/bot",
            "TRADING_MCP__HISTORY_BARS": "80",
        },
    )

    assert done.returncode == 2, done
    assert done.stderr.startswith("error [TELEGRAM_UNREACHABLE]: cannot reach the Telegram Bot API")
    assert "Traceback" not in done.stderr
    assert "secret-token" not in done.stderr


async def test_the_command_answers_status_over_long_polling_and_stops_on_sigterm(
    fake: BotApiFake, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_")}
    env |= {
        "TRADING_CONFIG_DIR": str(PACKAGED_CONFIG_DIR),
        "TRADING_DATA_DIR": str(tmp_path / "data"),
        "TRADING_MCP__HISTORY_BARS": "80",
        "TRADING_TELEGRAM__BOT_TOKEN": fake.token,
        "TRADING_TELEGRAM__BASE_URL": fake.base_url,
        "TRADING_TELEGRAM__ALLOWED_CHAT_IDS": f"[{OPERATOR['id']}]",
        "TRADING_TELEGRAM__POLL_TIMEOUT_SECONDS": "10",
    }
    fake.started_chats.add(OPERATOR["id"])
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trading_core.cli",
        "telegram",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        reply = await fake.reply_to(private_chat(OPERATOR), OPERATOR, "/status", timeout=TIMEOUT)
        assert reply.startswith("state: ACTIVE - initial state (by system)\nmode: paper"), reply
        assert fake.calls[:3] == ["getMe", "setMyCommands", "deleteWebhook"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=TIMEOUT)
    assert process.returncode == 0, stderr.decode()
    logged = stderr.decode()
    assert "telegram bot polling" in logged
    assert fake.token not in logged  # httpx's request lines would carry it: kept quiet
