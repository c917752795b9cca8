"""The real Alertmanager delivers: a critical alert to Telegram and by email, a warning by email
only, and a warning not at all while the critical of the same condition fires.

The server is Debian's ``prometheus-alertmanager`` (the package of ``amtool``) on
alertmanager/alertmanager.yml with four changes, so that nothing leaves the machine and the test
does not wait for minutes: the SMTP smarthost is a local SMTP fake (``smtp_fake.py``, no TLS),
Telegram's ``api_url`` is the local Bot API fake of the Telegram tests, the two secret files are
scratch files, and ``group_wait`` is one second. The routes, receivers and inhibit rule are the
repository's. Alerts are posted through Alertmanager's API (``POST /api/v2/alerts``), as
Prometheus posts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from tests.integration.telegram.bot_api_fake import BotApiFake

from .conftest import ALERTMANAGER_CONFIG
from .smtp_fake import SmtpFake

pytestmark = pytest.mark.integration

STARTUP_SECONDS = 30.0


@dataclass(frozen=True)
class Served:
    url: str
    telegram: BotApiFake
    smtp: SmtpFake
    chat_id: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _local_config(root: Path, telegram: BotApiFake, smtp: SmtpFake) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    token, password = root / "telegram_bot_token", root / "smtp_password"
    token.write_text(telegram.token)
    password.write_text("not-used-without-auth")
    config["global"].update(
        smtp_smarthost=f"127.0.0.1:{smtp.port}",
        smtp_require_tls=False,
        smtp_auth_password_file=str(password),
    )
    for receiver in config["receivers"]:
        for telegram_config in receiver.get("telegram_configs", []):
            telegram_config.update(
                bot_token_file=str(token), api_url=f"http://127.0.0.1:{telegram.port}"
            )
    config["route"]["group_wait"] = "1s"
    for route in config["route"]["routes"]:
        route.pop("group_wait", None)
    return config


@pytest.fixture
async def served(alertmanager_bin: Path, tmp_path: Path) -> AsyncIterator[Served]:
    telegram, smtp = await BotApiFake().start(), await SmtpFake().start()
    config = _local_config(tmp_path, telegram, smtp)
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    log = tmp_path / "alertmanager.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            str(alertmanager_bin),
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # one instance: no gossip port
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(url, process, log)
        chat_id = int(config["receivers"][1]["telegram_configs"][0]["chat_id"])
        yield Served(url=url, telegram=telegram, smtp=smtp, chat_id=chat_id)
    finally:
        if process.returncode is None:
            process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), timeout=15)
        if process.returncode is None:
            process.kill()
            await process.wait()
        await telegram.close()
        await smtp.close()


async def _wait_ready(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    async with asyncio.timeout(STARTUP_SECONDS), aiohttp.ClientSession() as http:
        while True:
            if process.returncode is not None:
                output = await asyncio.to_thread(log.read_text)
                pytest.fail(f"alertmanager exited with {process.returncode}:\n{output}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{url}/-/ready") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)


def _alert(severity: str, instance: str) -> dict[str, Any]:
    return {
        "labels": {
            "alertname": "TradingDrawdown",
            "severity": severity,
            "instance": instance,
            "job": "trading-core",
        },
        "annotations": {
            "summary": f"Drawdown {severity} on {instance}",
            "runbook_url": "docs/runbooks/kill-switch.md",
        },
    }


async def test_critical_pages_on_telegram_and_email_and_a_matching_warning_is_inhibited(
    served: Served,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{served.url}/api/v2/alerts",
            json=[
                _alert("critical", "a:9108"),
                _alert("warning", "a:9108"),  # the same condition, under its critical
                _alert("warning", "b:9108"),  # another instance: nothing inhibits it
            ],
        ) as posted:
            assert posted.status == 200, await posted.text()

        mails = await served.smtp.wait_for(2)
        [page] = await served.telegram.wait_for(lambda m: m["chat_id"] == served.chat_id)
        async with http.get(f"{served.url}/api/v2/alerts") as response:
            alerts = await response.json()

    # Alertmanager's default subject: the group's labels (alertname, instance, severity).
    assert sorted(str(mail["Subject"]) for mail in mails) == [
        "[FIRING:1] TradingDrawdown a:9108 critical (trading-core)",
        "[FIRING:1] TradingDrawdown b:9108 warning (trading-core)",
    ]
    assert all(mail["To"] == "trading-ops@example.org" for mail in mails)
    assert "critical" in page["text"], page["text"]
    assert "a:9108" in page["text"], page["text"]
    assert "warning" not in page["text"], page["text"]

    state = {a["labels"]["severity"] + " " + a["labels"]["instance"]: a["status"] for a in alerts}
    assert state["warning a:9108"]["state"] == "suppressed"
    assert state["warning a:9108"]["inhibitedBy"], state
    assert state["warning b:9108"]["state"] == "active"
    assert state["critical a:9108"]["state"] == "active"
    # Every group has been flushed (one second), so these are all the messages there will be.
    assert len(served.smtp.messages) == 2
    assert len(served.telegram.sent) == 1
