"""`mcp-suite` as a user runs it: its console script as a subprocess, over stdio and over HTTP.

stdio is what Claude Desktop and Claude Code launch: a real client in both protocol eras, and a
raw session that reads every byte of stdout (nothing but JSON-RPC may appear there). HTTP is
streamable HTTP with a bearer token per principal, Host/Origin checks and a loopback bind.
Every server gets a scratch data directory and the repository's config, and runs in a scratch
working directory.
"""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.auth import BearerAuth
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
from mcp.shared.exceptions import MCPError

from trading_core.settings import PACKAGED_CONFIG_DIR

pytestmark = pytest.mark.e2e

SUITE = Path(sys.executable).parent / "mcp-suite"
"""The console script installed next to the interpreter running the tests."""

ERAS = {"legacy": "2025-11-25", "auto": "2026-07-28"}
"""Client mode -> the protocol version it must negotiate with the suite."""
LEGACY = ERAS["legacy"]

CONTRACT_TOOLS = frozenset(
    {
        *("list_symbols", "get_quote", "get_ohlcv", "get_indicators", "get_market_regime"),
        *("place_order", "list_approvals", "approve_order", "reject_order", "cancel_order"),
        *("cancel_all_orders", "close_position", "get_order", "list_orders"),
        *("check_order", "get_risk_limits", "set_risk_limit", "get_trading_state"),
        *("pause_trading", "resume_trading", "activate_kill_switch", "get_risk_metrics"),
        *("run_stress_test", "get_position_size"),
        *("get_positions", "get_portfolio_summary", "get_performance", "get_trade_history"),
        *("get_equity_curve", "get_decisions"),
    }
)
"""The 30 tools of /work/shared/reference/mcp-contract.md (names are a contract)."""

STARTUP_SECONDS = 45.0
EVIL_ORIGIN = "https://evil.example"
AUTONOMOUS = "trading-core"


def _env(root: Path, **extra: str) -> dict[str, str]:
    """The user's environment without any TRADING_* setting of theirs, plus the scratch dirs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_")}
    env["TRADING_CONFIG_DIR"] = str(PACKAGED_CONFIG_DIR)
    env["TRADING_DATA_DIR"] = str(root / "data")
    return {**env, **extra}


@pytest.fixture(scope="module")
def suite_bin() -> Path:
    if not SUITE.is_file():
        pytest.skip(f"console script {SUITE} not installed (run `uv sync`)")
    return SUITE


def _text(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def _ok(client: Client[Any], tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments, raise_on_error=False)
    assert not result.is_error, f"{tool}: {_text(result)}"
    assert result.structured_content is not None, tool
    return result.structured_content


async def _check_quote_and_summary(client: Client[Any]) -> None:
    quote = await _ok(client, "get_quote", {"symbol": "BTC/USD"})
    assert quote["symbol"] == "BTC/USD"
    assert Decimal(quote["bid"]) < Decimal(quote["ask"])
    assert quote["stale"] is False
    summary = await _ok(client, "get_portfolio_summary", {})
    equity = Decimal(summary["equity"])
    assert equity > 0
    assert equity == Decimal(summary["cash"]) + Decimal(summary["positions_value"])
    assert summary["trading_state"] == "ACTIVE"


async def _check_tools(client: Client[Any]) -> None:
    tools = await client.list_tools()
    names = [tool.name for tool in tools]
    assert len(names) == len(set(names)) >= len(CONTRACT_TOOLS)
    assert set(names) >= CONTRACT_TOOLS, CONTRACT_TOOLS - set(names)
    assert all(tool.output_schema for tool in tools)


# --- stdio -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(ERAS))
async def test_stdio_client_lists_and_calls_tools(
    suite_bin: Path, tmp_path: Path, mode: str
) -> None:
    log = tmp_path / "server.log"
    transport = StdioTransport(
        str(suite_bin), [], env=_env(tmp_path), cwd=str(tmp_path), keep_alive=False, log_file=log
    )
    async with Client(transport, mode=mode) as client:
        assert client.protocol_version == ERAS[mode]
        await _check_tools(client)
        await _check_quote_and_summary(client)

        refused = await client.call_tool(
            "place_order",
            {"symbol": "BTC/USD", "side": "buy", "quantity": "0.001", "bypass_risk": True},
            raise_on_error=False,
        )
        assert refused.is_error
        assert _text(refused).startswith("INVALID_ARGUMENT:"), _text(refused)
        assert "bypass_risk" in _text(refused)
        assert (await _ok(client, "list_orders", {}))["orders"] == []
        assert (await _ok(client, "get_decisions", {}))["decisions"] == []
    assert (tmp_path / "data").is_dir(), log.read_text()  # the scratch data dir was used


def _json_rpc(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        pytest.fail(f"stdout carried something other than JSON-RPC: {line!r}")
    assert isinstance(message, dict), line
    assert message.get("jsonrpc") == "2.0", line
    return message


async def test_stdio_stdout_carries_nothing_but_json_rpc(suite_bin: Path, tmp_path: Path) -> None:
    """Read stdout raw: a stray print would corrupt a real client's stream."""
    seen: list[bytes] = []
    with (tmp_path / "server.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            str(suite_bin),
            cwd=tmp_path,
            env=_env(tmp_path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            limit=1 << 24,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        stdin, stdout = process.stdin, process.stdout

        async def send(message: dict[str, Any]) -> None:
            stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
            await stdin.drain()

        async def ask(request_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
            await send({"id": request_id, "method": method, "params": params})
            while True:
                line = await asyncio.wait_for(stdout.readline(), timeout=60)
                assert line, "stdout closed before the answer"
                seen.append(line)
                message = _json_rpc(line)
                if message.get("id") == request_id:
                    return message

        try:
            hello = await ask(
                1,
                "initialize",
                {
                    "protocolVersion": LEGACY,
                    "capabilities": {},
                    "clientInfo": {"name": "e2e", "version": "1"},
                },
            )
            await send({"method": "notifications/initialized"})
            listed = await ask(2, "tools/list", {})
            quote = await ask(
                3, "tools/call", {"name": "get_quote", "arguments": {"symbol": "BTC/USD"}}
            )
            stdin.close()  # end of input: the server must exit by itself, cleanly
            seen.extend((await asyncio.wait_for(stdout.read(), timeout=30)).splitlines())
            returncode = await asyncio.wait_for(process.wait(), timeout=30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    assert hello["result"]["protocolVersion"] == LEGACY
    assert {t["name"] for t in listed["result"]["tools"]} >= CONTRACT_TOOLS
    assert quote["result"]["isError"] is False
    assert quote["result"]["structuredContent"]["symbol"] == "BTC/USD"
    for line in seen:
        _json_rpc(line)
    assert returncode == 0, (tmp_path / "server.log").read_text()


# --- HTTP --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpServer:
    port: int
    tokens: dict[str, str]
    """Principal -> its bearer token."""
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mcp-suite exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(
        f"mcp-suite did not listen on {port} within {STARTUP_SECONDS} s:\n{log.read_text()}"
    )


@pytest.fixture(scope="module")
def http_server(suite_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    root = tmp_path_factory.mktemp("http")
    tokens = {"assistant": secrets.token_urlsafe(32), AUTONOMOUS: secrets.token_urlsafe(32)}
    # A token's variable names its principal (pydantic-settings: the dict key, lower-cased).
    env = _env(root, **{f"TRADING_MCP__TOKENS__{name.upper()}": t for name, t in tokens.items()})
    port = _free_port()
    log = root / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(suite_bin), "--transport", "http", "--port", str(port)],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_listening(process, port, log)
        yield HttpServer(port=port, tokens=tokens, log=log)
    finally:
        _stop(process)


@asynccontextmanager
async def _http_client(server: HttpServer, principal: str, mode: str) -> AsyncIterator[Client[Any]]:
    transport = StreamableHttpTransport(server.url, auth=BearerAuth(server.tokens[principal]))
    async with Client(transport, mode=mode) as client:
        yield client


def _post(
    port: int, body: dict[str, Any], headers: dict[str, str]
) -> tuple[int, dict[str, str], str]:
    """One raw POST to /mcp; returns the status, the lower-cased headers and the body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            "/mcp",
            body=json.dumps(body),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                **headers,
            },
        )
        response = connection.getresponse()
        answer = response.read().decode()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, answer
    finally:
        connection.close()


def _messages(body: str) -> list[dict[str, Any]]:
    """JSON-RPC messages of a response body, plain JSON or server-sent events."""
    if body.lstrip().startswith("{"):
        return [json.loads(body)]
    return [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": LEGACY,
        "capabilities": {},
        "clientInfo": {"name": "e2e-raw", "version": "1"},
    },
}


async def _resting_buy(
    symbol: str, quantity: str, reason: str, client: Client[Any]
) -> dict[str, Any]:
    """place_order arguments for a small limit buy 1 % under the bid (it rests, no approval)."""
    quote = await _ok(client, "get_quote", {"symbol": symbol})
    price = (Decimal(quote["bid"]) * Decimal("0.99")).quantize(Decimal(1))
    return {
        "symbol": symbol,
        "side": "buy",
        "quantity": quantity,
        "order_type": "limit",
        "limit_price": str(price),
        "reason": reason,
    }


async def _decisions_about(client: Client[Any], tag: str) -> list[dict[str, Any]]:
    rows = (await _ok(client, "get_decisions", {"limit": 1000}))["decisions"]
    return [row for row in rows if tag in row["reasoning"]]


@pytest.mark.parametrize("mode", list(ERAS))
async def test_http_client_with_token_lists_and_calls_tools(
    http_server: HttpServer, mode: str
) -> None:
    async with _http_client(http_server, "assistant", mode) as client:
        assert client.protocol_version == ERAS[mode]
        await _check_tools(client)
        await _check_quote_and_summary(client)


def test_http_without_or_with_a_wrong_token_is_401(http_server: HttpServer) -> None:
    for headers in ({}, {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}):
        status, answer_headers, body = _post(http_server.port, INITIALIZE, headers)
        assert status == 401, (headers.keys(), status, body)
        assert answer_headers.get("www-authenticate", "").startswith("Bearer")
        assert "mcp-session-id" not in answer_headers
    right = {"Authorization": f"Bearer {http_server.tokens['assistant']}"}
    status, _, body = _post(http_server.port, INITIALIZE, right)
    assert status == 200, body
    assert _messages(body)[0]["result"]["protocolVersion"] == LEGACY


async def test_refused_http_requests_never_reach_a_tool(http_server: HttpServer) -> None:
    """The same place_order in one valid session: refused without the right token or from a
    foreign Origin (no order, no audit row); accepted with both right (the control)."""
    token = http_server.tokens["assistant"]
    status, headers, body = _post(
        http_server.port, INITIALIZE, {"Authorization": f"Bearer {token}"}
    )
    assert status == 200, body
    good = {
        "Authorization": f"Bearer {token}",
        "Mcp-Session-Id": headers["mcp-session-id"],
        "MCP-Protocol-Version": LEGACY,
    }
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert _post(http_server.port, initialized, good)[0] == 202

    tag = uuid.uuid4().hex
    async with _http_client(http_server, "assistant", "auto") as client:
        refusals = {
            "no token": ({k: v for k, v in good.items() if k != "Authorization"}, 401),
            "wrong token": ({**good, "Authorization": f"Bearer {secrets.token_urlsafe(32)}"}, 401),
            "foreign origin": ({**good, "Origin": EVIL_ORIGIN}, 403),
        }
        for number, (label, (attempt, expected)) in enumerate(refusals.items(), start=10):
            arguments = await _resting_buy("BTC/USD", "0.0011", f"{tag} {label}", client)
            call = {"name": "place_order", "arguments": arguments}
            request = {"jsonrpc": "2.0", "id": number, "method": "tools/call", "params": call}
            status, _, body = _post(http_server.port, request, attempt)
            assert status == expected, (label, status, body)
            assert 400 <= status < 500

        arguments = await _resting_buy("BTC/USD", "0.0011", f"{tag} control", client)
        call = {"name": "place_order", "arguments": arguments}
        request = {"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": call}
        status, _, body = _post(http_server.port, request, good)
        assert status == 200, body
        (answer,) = [m for m in _messages(body) if m.get("id") == 99]
        assert answer["result"]["isError"] is False, answer
        placed = answer["result"]["structuredContent"]
        assert placed["status"] == "accepted", placed

        rows = await _decisions_about(client, tag)
    assert len(rows) == 1, rows  # only the control reached place_order
    assert f"{tag} control" in rows[0]["reasoning"]
    assert rows[0]["order_id"] == placed["order"]["order_id"]


async def test_http_token_names_the_principal_in_the_audit_trail(http_server: HttpServer) -> None:
    tag = uuid.uuid4().hex
    placed: dict[str, dict[str, Any]] = {}
    for principal, symbol in (("assistant", "BTC/USD"), (AUTONOMOUS, "ETH/USD")):
        async with _http_client(http_server, principal, "auto") as client:
            arguments = await _resting_buy(symbol, "0.0012", f"{tag} by {principal}", client)
            placed[principal] = await _ok(client, "place_order", arguments)
            assert placed[principal]["status"] == "accepted", placed[principal]

    async with _http_client(http_server, "assistant", "legacy") as client:
        rows = await _decisions_about(client, tag)
    by_order = {row["order_id"]: row for row in rows}
    assert len(rows) == len(by_order) == 2, rows
    for principal, result in placed.items():
        row = by_order[result["order"]["order_id"]]
        assert row["principal"] == principal, row
        assert f"{tag} by {principal}" in row["reasoning"]


def _decode_address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_address)
    # /proc/net/tcp{,6} print each 32-bit word of the address in host (little-endian) order.
    return ipaddress.ip_address(b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)))


def _listening_addresses(port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    found = []
    for table in ("tcp", "tcp6"):
        path = Path("/proc/net") / table
        if not path.is_file():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.append(_decode_address(address))
    return found


def test_http_binds_to_loopback_only_by_default(http_server: HttpServer) -> None:
    """Read the listening socket's own address rather than probing a non-loopback interface:
    this workplace allows traffic to loopback addresses only, and the socket table is exact."""
    if not Path("/proc/net/tcp").is_file():
        pytest.skip("no /proc/net/tcp to read listening sockets from")
    addresses = _listening_addresses(http_server.port)
    assert addresses, f"nothing listens on {http_server.port}"
    assert all(address.is_loopback for address in addresses), addresses


@pytest.mark.parametrize(
    "tokens", [{}, {"TRADING_MCP__TOKENS__ASSISTANT": ""}], ids=["no token", "empty token"]
)
def test_http_without_a_token_exits_2(
    suite_bin: Path, tmp_path: Path, tokens: dict[str, str]
) -> None:
    port = _free_port()
    result = subprocess.run(
        [str(suite_bin), "--transport", "http", "--port", str(port)],
        cwd=tmp_path,
        env=_env(tmp_path, **tokens),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "TRADING_MCP__TOKENS" in result.stderr
    assert result.stdout == ""
    assert _listening_addresses(port) == []


@pytest.mark.parametrize("mode", list(ERAS))
async def test_the_autonomous_principal_cannot_approve_its_own_loosening(
    http_server: HttpServer, mode: str
) -> None:
    # trading-core's connection answers "yes" to every form: that must never count as a person.
    asked: list[str] = []

    async def says_yes(message: str, response_type: Any, params: Any, context: Any) -> Any:
        asked.append(message)
        return {"approve": True}

    key = "max_daily_orders"
    transport = StreamableHttpTransport(
        http_server.url, auth=BearerAuth(http_server.tokens[AUTONOMOUS])
    )
    async with Client(transport, mode=mode, elicitation_handler=says_yes) as client:
        tightened = await _ok(client, "set_risk_limit", {"key": key, "value": "150"})
        result = await client.call_tool(
            "set_risk_limit", {"key": key, "value": "160"}, raise_on_error=False
        )
        limits = (await _ok(client, "get_risk_limits", {}))["limits"]
    assert tightened["status"] in ("applied", "unchanged")
    assert result.is_error
    assert _text(result).startswith("HUMAN_APPROVAL_REQUIRED:"), _text(result)
    assert asked == []
    assert {i["key"]: i["effective"] for i in limits}[key] == 150


async def test_each_principal_is_rate_limited(suite_bin: Path, tmp_path: Path) -> None:
    tokens = {"assistant": secrets.token_urlsafe(32), "other": secrets.token_urlsafe(32)}
    env = _env(
        tmp_path,
        TRADING_MCP__REQUESTS_PER_SECOND="0.5",
        TRADING_MCP__BURST="4",
        **{f"TRADING_MCP__TOKENS__{name.upper()}": t for name, t in tokens.items()},
    )
    port = _free_port()
    log = tmp_path / "server.log"
    process = _spawn_http(suite_bin, tmp_path, env, port, log)
    try:
        _wait_listening(process, port, log)
        server = HttpServer(port=port, tokens=tokens, log=log)
        answered, refused = 0, []
        async with _http_client(server, "assistant", "auto") as client:
            for _ in range(8):
                try:
                    await client.call_tool("get_quote", {"symbol": "BTC/USD"})
                    answered += 1
                except MCPError as exc:  # refused as a protocol error, before any tool runs
                    refused.append(str(exc))
        async with _http_client(server, "other", "auto") as other:
            fresh = await other.call_tool("get_quote", {"symbol": "BTC/USD"})
    finally:
        _stop(process)
    assert refused, "eight calls in a burst of four at 0.5/s: some must be refused"
    assert all("Rate limit exceeded for client: assistant" in text for text in refused), refused
    assert 1 <= answered < 8
    assert fresh.structured_content is not None  # the bucket is per principal


def _spawn_http(
    suite_bin: Path, root: Path, env: dict[str, str], port: int, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [str(suite_bin), "--transport", "http", "--port", str(port)],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
