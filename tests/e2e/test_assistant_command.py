"""`trading-core assistant` as a person runs it: a subprocess, a scratch data directory, and a
scripted OpenAI-compatible chat endpoint on a local port; the suite in the host's process, or
`mcp-suite --transport http` in another, reached with a bearer token."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from trading_core.domain.signal import DecisionType
from trading_core.settings import PACKAGED_CONFIG_DIR
from trading_core.storage.factory import open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "host"))
from chat_fake import ChatFake, text, tool_calls

SUITE = Path(sys.executable).parent / "mcp-suite"
TIMEOUT = 120


@pytest.fixture
async def chat() -> AsyncIterator[ChatFake]:
    fake = ChatFake()
    await fake.start()
    yield fake
    await fake.stop()


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_")}
    env["TRADING_CONFIG_DIR"] = str(PACKAGED_CONFIG_DIR)
    env["TRADING_DATA_DIR"] = str(root / "data")
    return {**env, **extra}


async def _assistant(root: Path, *args: str, stdin: str = "", **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trading_core.cli",
        "assistant",
        *args,
        cwd=root,
        env=_env(root, **env),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _equity_answer(request: dict[str, Any]) -> dict[str, Any]:
    last = json.loads(request["messages"][-1]["content"])
    return text(f"equity {last['untrusted_data']['equity']}")


async def test_one_question_is_answered_and_its_turns_audited(
    tmp_path: Path, chat: ChatFake
) -> None:
    chat.script = [tool_calls(("get_portfolio_summary", {})), _equity_answer]

    code, out, err = await _assistant(
        tmp_path, "What is my equity?", "--base-url", chat.base_url, "--model", "qwen-local"
    )

    assert code == 0, err
    assert out.strip() == "equity 100000"
    assert "-> get_portfolio_summary()" in err
    assert chat.requests[0]["model"] == "qwen-local"
    store = await open_store(f"sqlite:///{tmp_path / 'data' / 'trading.db'}")
    try:
        rows = [
            r for r in await store.list_decisions() if r.decision_type is DecisionType.ASSISTANT
        ]
    finally:
        await store.close()
    assert [r.final_action for r in rows] == ["tool_calls: get_portfolio_summary", "answer"]
    assert {r.principal for r in rows} == {"assistant:host"}


async def test_questions_from_stdin_share_one_conversation_until_exit(
    tmp_path: Path, chat: ChatFake
) -> None:
    chat.script = [text("first answer"), text("second answer"), text("never asked")]

    code, out, err = await _assistant(
        tmp_path, stdin="one\n\ntwo\nexit\nthree\n", TRADING_ASSISTANT__BASE_URL=chat.base_url
    )

    assert code == 0, err
    assert out.splitlines() == ["first answer", "second answer"]
    assert len(chat.requests) == 2
    assert [m["content"] for m in chat.requests[1]["messages"][1:]] == [
        "one",
        "first answer",
        "two",
    ]


async def test_an_unreachable_endpoint_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, err = await _assistant(tmp_path, "hi", "--base-url", f"http://127.0.0.1:{port}/v1")
    assert code == 2
    assert out == ""
    assert err.startswith("error [CHAT_ENDPOINT_ERROR]: cannot reach the chat endpoint")
    assert "Traceback" not in err


async def test_a_suite_over_http_needs_its_token(tmp_path: Path, chat: ChatFake) -> None:
    code, _, err = await _assistant(
        tmp_path, "hi", "--base-url", chat.base_url, "--mcp-url", "http://127.0.0.1:1/mcp"
    )
    assert code == 2
    assert "TRADING_ASSISTANT__MCP_TOKEN" in err
    assert chat.requests == []


async def test_the_host_drives_a_suite_served_over_http(tmp_path: Path, chat: ChatFake) -> None:
    if not SUITE.is_file():
        pytest.skip(f"console script {SUITE} not installed (run `uv sync`)")
    token = secrets.token_urlsafe(32)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        str(SUITE),
        "--transport",
        "http",
        "--port",
        str(port),
        cwd=tmp_path,
        env=_env(tmp_path, TRADING_MCP__TOKENS__DESK_ASSISTANT=token),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            break
        chat.script = [tool_calls(("get_portfolio_summary", {})), _equity_answer]
        code, out, err = await _assistant(
            tmp_path,
            "What is my equity?",
            "--base-url",
            chat.base_url,
            "--mcp-url",
            f"http://127.0.0.1:{port}/mcp",
            TRADING_ASSISTANT__MCP_TOKEN=token,
        )
    finally:
        server.terminate()
        await server.wait()
    assert code == 0, err
    assert out.strip() == "equity 100000"
