"""Reaching the two MCP servers of the MCP rows over stdio and streamable HTTP.

Each transport yields a pair of connected clients (ours, the bare floor) with the same client
settings, plus a sentence describing the set-up for the report. Servers run as child processes,
as a person's client would launch them: ``mcp-suite`` (the console script of this environment)
and ``python benchmarks/bare_mcp_server.py``, both on a scratch data directory and the
repository's configuration, with no other ``TRADING_*`` setting inherited.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import uvicorn
from fastmcp import Client, FastMCP
from fastmcp.client.transports import StdioTransport
from pydantic import SecretStr

from benchmarks.bare_mcp_server import SCRIPT
from benchmarks.environment import CONFIG_DIR
from mcp_servers.auth import PrincipalTokenVerifier
from mcp_servers.cli import cache_input_schemas
from mcp_servers.runtime import Runtime
from mcp_servers.suite import build_suite
from trading_core.settings import Settings, load_settings

MCP_SUITE = Path(sys.executable).parent / "mcp-suite"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
UNLIMITED_RATE = "1000000"
"""Our HTTP server rate-limits each principal (20/s by default): lifted so no call is refused."""

ClientPair = tuple[Client[Any], Client[Any]]


def scratch_settings(data_dir: Path) -> Settings:
    """The repository's configuration over an empty data directory (a fresh SQLite file)."""
    return load_settings(config_dir=CONFIG_DIR, data_dir=data_dir)


@contextlib.asynccontextmanager
async def stdio_pair(scratch: Path) -> AsyncIterator[tuple[ClientPair, str]]:
    """Both servers as child processes on stdio pipes, launched by fastmcp's StdioTransport."""
    env = _server_env(scratch / "stdio")
    ours = StdioTransport(
        str(MCP_SUITE), [], env=env, keep_alive=False, log_file=scratch / "mcp-suite.log"
    )
    base = StdioTransport(
        sys.executable, [str(SCRIPT)], env=env, keep_alive=False, log_file=scratch / "bare.log"
    )
    async with Client(ours, mode="auto") as ours_client, Client(base, mode="auto") as bare:
        yield (
            (ours_client, bare),
            "stdio: `mcp-suite` (the console script) and `python benchmarks/bare_mcp_server.py` "
            "as child processes, launched by fastmcp's StdioTransport",
        )


@contextlib.asynccontextmanager
async def http_pair(scratch: Path) -> AsyncIterator[tuple[ClientPair, str]]:
    """Both servers as child processes serving streamable HTTP behind the same bearer token."""
    token = secrets.token_hex(24)
    ours_port, base_port = free_port(), free_port()
    env = _server_env(scratch / "http") | {
        "TRADING_MCP__TOKENS__ASSISTANT": token,
        "TRADING_MCP__REQUESTS_PER_SECOND": UNLIMITED_RATE,
        "TRADING_MCP__BURST": UNLIMITED_RATE,
    }
    ours_command = [str(MCP_SUITE), "--transport", "http", "--port", str(ours_port)]
    base_command = [sys.executable, str(SCRIPT), "--transport", "http"]
    base_command += [f"--port={base_port}", f"--token={token}"]
    ours_log, base_log = scratch / "mcp-suite.log", scratch / "bare.log"
    with (
        _server_process(ours_command, env, ours_log) as ours_process,
        _server_process(base_command, env, base_log) as base_process,
    ):
        await wait_for_port(ours_port, lambda: _exited(ours_process, ours_log))
        await wait_for_port(base_port, lambda: _exited(base_process, base_log))
        async with (
            Client(url(ours_port), auth=token, mode="auto") as ours,
            Client(url(base_port), auth=token, mode="auto") as bare,
        ):
            yield (
                (ours, bare),
                "streamable HTTP on 127.0.0.1, one kept-alive connection per client: "
                "`mcp-suite --transport http` and the bare script as child processes, both "
                "behind bearer auth on the same token (ours: PrincipalTokenVerifier; bare: "
                "fastmcp's StaticTokenVerifier) with Host/Origin protection on. Ours also runs "
                "its per-principal rate limiter, lifted to 1,000,000/s so no call is refused",
            )


async def suite_behind_token(runtime: Runtime, token: str) -> FastMCP[Any]:
    """Our suite as ``mcp-suite --transport http`` serves it: bearer auth, cached schemas."""
    suite = build_suite(runtime)
    suite.auth = PrincipalTokenVerifier({"assistant": SecretStr(token)})
    await cache_input_schemas(suite)
    return suite


@contextlib.asynccontextmanager
async def in_process_http(server: FastMCP[Any], token: str) -> AsyncIterator[Client[Any]]:
    """``server`` served over HTTP from this process (to profile server and client together).

    uvicorn is driven directly, as fastmcp's ``run_http_async`` does, so it stops cleanly.
    """
    port = free_port()
    uvicorn_server = uvicorn.Server(
        uvicorn.Config(
            server.http_app(host_origin_protection=True),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
    )
    serving = asyncio.create_task(uvicorn_server.serve())
    try:
        await wait_for_port(port, lambda: _task_ended(serving))
        async with Client(url(port), auth=token, mode="auto") as client:
            yield client
    finally:
        uvicorn_server.should_exit = True
        await serving


async def wait_for_port(port: int, ended: Callable[[], str | None]) -> None:
    """Until a server accepts connections on ``port`` (uvicorn binds once the app started).

    ``ended`` says why the server is gone (None while it runs), to fail fast with its reason.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while True:
        reason = ended()
        if reason is not None:
            raise RuntimeError(f"the server on port {port} stopped: {reason}")
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if loop.time() > deadline:
                message = f"no server on port {port} after {START_TIMEOUT_S:.0f} s"
                raise RuntimeError(message) from None
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}/mcp"


@contextlib.contextmanager
def _server_process(
    command: list[str], env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A server child process, stopped (SIGTERM, then SIGKILL) when the block ends."""
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=dict(env), stdout=sink, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_S)


def _exited(process: subprocess.Popen[bytes], log: Path) -> str | None:
    if process.poll() is None:
        return None
    tail = log.read_text(encoding="utf-8", errors="replace")[-2_000:]
    return f"exit status {process.returncode}; its output ends with: {tail}"


def _task_ended(task: asyncio.Task[None]) -> str | None:
    if not task.done():
        return None
    error = None if task.cancelled() else task.exception()
    return repr(error) if error is not None else "the task ended"


def _server_env(data_dir: Path) -> dict[str, str]:
    """This process's environment without TRADING_* settings, plus the scratch ones."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_")}
    return inherited | {"TRADING_CONFIG_DIR": str(CONFIG_DIR), "TRADING_DATA_DIR": str(data_dir)}
