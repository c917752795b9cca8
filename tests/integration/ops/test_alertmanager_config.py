"""alertmanager/alertmanager.yml, checked and routed by amtool (Debian's prometheus-alertmanager).

``amtool check-config`` loads the file as Alertmanager does (secrets are files: it checks the
keys, not that the files exist on this machine); ``amtool config routes test`` resolves the
receivers an alert with the given labels reaches, through the real routing tree.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .conftest import ALERTMANAGER_CONFIG, run_tool


def test_the_configuration_is_valid(amtool: Path) -> None:
    checked = run_tool(amtool, "check-config", ALERTMANAGER_CONFIG)
    assert checked.returncode == 0, checked.stdout
    assert "SUCCESS" in checked.stdout, checked.stdout
    assert "1 inhibit rules" in checked.stdout, checked.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=critical", "alertname=KillSwitchActive"], "telegram,email"),
        (["severity=critical", "alertname=TradingDrawdown", "instance=tc:9108"], "telegram,email"),
        (["severity=warning", "alertname=TradingDrawdown", "instance=tc:9108"], "email"),
        (["severity=warning", "alertname=McpToolErrorRate"], "email"),
        (["alertname=Watchdog"], "email"),
    ],
    ids=["critical", "critical-pair", "warning-pair", "warning", "no-severity"],
)
def test_critical_alerts_reach_telegram_and_email_and_warnings_email_only(
    amtool: Path, labels: list[str], receivers: str
) -> None:
    routed = run_tool(
        amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
        f"--verify.receivers={receivers}", *labels,
    )  # fmt: skip
    assert routed.returncode == 0, routed.stdout
    assert routed.stdout.splitlines()[-1] == receivers, routed.stdout


def test_a_warning_never_reaches_telegram(amtool: Path) -> None:
    """The converse, asserted through amtool's own verification: it exits 1 on a mismatch."""
    routed = run_tool(
        amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
        "--verify.receivers=telegram,email", "severity=warning", "alertname=TradingDrawdown",
    )  # fmt: skip
    assert routed.returncode == 1, routed.stdout
    assert "Expected receivers did not match" in routed.stdout, routed.stdout


def test_secrets_are_read_from_files_never_written_inline() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    assert "smtp_auth_password" not in config["global"]
    assert config["global"]["smtp_auth_password_file"].startswith("/run/secrets/")
    for receiver in config["receivers"]:
        for telegram in receiver.get("telegram_configs", []):
            assert "bot_token" not in telegram
            assert telegram["bot_token_file"].startswith("/run/secrets/")
        for email in receiver.get("email_configs", []):
            assert "auth_password" not in email
