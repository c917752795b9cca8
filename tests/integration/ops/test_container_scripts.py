"""What the images run besides the programs: the entrypoint (secrets into the environment) and
the health check, against real processes (a trading-core /metrics endpoint, an mcp-suite started
through the entrypoint as its container starts it)."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from trading_core.adapters.metrics import Metrics
from trading_core.settings import PACKAGED_CONFIG_DIR

from .tools import REPO

ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
HEALTHCHECK = REPO / "docker" / "healthcheck.py"
SUITE = Path(sys.executable).parent / "mcp-suite"
STARTUP_SECONDS = 45.0


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADING_", "PGPASSWORD"))}
    return {**env, **extra}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _health(url: str, *statuses: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), url, *statuses],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_entrypoint_exports_secrets_named_like_settings(tmp_path: Path) -> None:
    (tmp_path / "TRADING_MCP__TOKENS__TRADING_CORE").write_text("tok-123\n")
    (tmp_path / "PGPASSWORD").write_text("pg pass")
    (tmp_path / "postgres_password").write_text("not exported: not a variable's name")
    (tmp_path / "TRADING_BAD-NAME").write_text("not exported: not a valid name")
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), "sh", "-c", 'env; echo "argv:$0:$1"', "zero", "one"],
        env=_clean_env(TRADING_SECRETS_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "TRADING_MCP__TOKENS__TRADING_CORE=tok-123" in lines  # trailing newline dropped
    assert "PGPASSWORD=pg pass" in lines
    assert not any(line.startswith(("postgres_password=", "TRADING_BAD")) for line in lines)
    assert lines[-1] == "argv:zero:one"  # the command and its arguments, exec'd as given


def test_the_entrypoint_without_secrets_runs_the_command_as_is(tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), "sh", "-c", "exit 7"],
        env=_clean_env(TRADING_SECRETS_DIR=str(tmp_path / "none")),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 7  # the command's own status: compose's restart policy sees it


def test_the_healthcheck_passes_on_a_live_metrics_endpoint_and_fails_otherwise() -> None:
    metrics = Metrics()
    with metrics.serve(0) as server:
        url = f"http://127.0.0.1:{server.port}/metrics"
        assert _health(url, "200").returncode == 0
        wrong = _health(url, "401")
        assert wrong.returncode == 1
        assert "answered 200" in wrong.stderr
    dead = _health(f"http://127.0.0.1:{_free_port()}/metrics")
    assert dead.returncode == 1
    assert "unhealthy" in dead.stderr


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """mcp-suite started as its container starts it: the entrypoint reads the token from a
    secret file; TRADING_MCP__ALLOWED_HOSTS as docker-compose.prod.yml sets it."""
    if not SUITE.is_file():
        pytest.skip(f"console script {SUITE} not installed (run `uv sync`)")
    root = tmp_path_factory.mktemp("suite")
    secrets_dir = root / "secrets"
    secrets_dir.mkdir()
    token = secrets.token_urlsafe(32)
    (secrets_dir / "TRADING_MCP__TOKENS__TRADING_CORE").write_text(token + "\n")
    port = _free_port()
    log = root / "suite.log"
    env = _clean_env(
        TRADING_SECRETS_DIR=str(secrets_dir),
        TRADING_CONFIG_DIR=str(PACKAGED_CONFIG_DIR),
        TRADING_DATA_DIR=str(root / "data"),
        TRADING_MCP__ALLOWED_HOSTS='["mcp-suite"]',
    )
    with log.open("wb") as sink:
        # 127.0.0.1 rather than the container's 0.0.0.0: the Host check is the same either way.
        process = subprocess.Popen(
            [
                *("sh", str(ENTRYPOINT), str(SUITE), "--transport", "http"),
                *("--host", "127.0.0.1", "--port", str(port)),
            ],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while _health(f"http://127.0.0.1:{port}/mcp", "401").returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mcp-suite did not come up:\n{log.read_text()}")
            time.sleep(0.3)
        yield port, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _initialize(port: int, token: str, host: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            "/mcp",
            body=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-11-25",
                        "capabilities": {},
                        "clientInfo": {"name": "ops-test", "version": "1"},
                    },
                }
            ),
            headers={
                "Host": host,
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
            },
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_suite_healthcheck_is_its_metrics_page(suite: tuple[int, str]) -> None:
    port, _ = suite
    assert _health(f"http://127.0.0.1:{port}/metrics", "200").returncode == 0
    # /mcp itself still refuses an anonymous request: authentication is on.
    assert _health(f"http://127.0.0.1:{port}/mcp", "401").returncode == 0


def test_the_suite_answers_trading_core_by_its_service_name_and_no_other(
    suite: tuple[int, str],
) -> None:
    port, token = suite
    assert _initialize(port, token, f"mcp-suite:{port}") == 200  # the token from the secret
    assert _initialize(port, token, f"127.0.0.1:{port}") == 200
    assert _initialize(port, token, f"elsewhere.example:{port}") == 421  # DNS rebinding
    assert _initialize(port, "wrong-token", f"mcp-suite:{port}") == 401
