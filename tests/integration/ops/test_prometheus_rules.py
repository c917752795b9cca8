"""prometheus/: the configuration and the alert rules, checked and unit-tested by promtool.

promtool (Debian's ``prometheus`` package) parses the configuration and the rules exactly as
the server does, and ``promtool test rules`` evaluates each alert over synthetic series
(prometheus/tests/*.yml). The tests here add what promtool cannot know: that every alert has a
test in which it fires, and the conventions Alertmanager and the operators rely on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import PROMETHEUS_DIR, REPO, run_tool

RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
SEVERITIES = {"critical", "warning"}


def _alert_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(rule for rule in group["rules"] if "alert" in rule)
    return rules


def test_the_configuration_and_its_rule_files_are_valid(promtool: Path) -> None:
    checked = run_tool(promtool, "check", "config", PROMETHEUS_DIR / "prometheus.yml")
    assert checked.returncode == 0, checked.stdout
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in checked.stdout, checked.stdout


def test_the_rules_are_valid(promtool: Path) -> None:
    assert RULE_FILES
    checked = run_tool(promtool, "check", "rules", *RULE_FILES)
    assert checked.returncode == 0, checked.stdout


def test_every_alert_passes_its_unit_tests(promtool: Path) -> None:
    assert TEST_FILES
    tested = run_tool(promtool, "test", "rules", *TEST_FILES, timeout=120)
    assert tested.returncode == 0, tested.stdout
    assert tested.stdout.count("SUCCESS") == len(TEST_FILES), tested.stdout


def test_every_alert_and_severity_fires_in_a_unit_test() -> None:
    """promtool runs the tests it is given; this makes sure none of the alerts is left out."""
    fired: set[tuple[str, str]] = set()
    silent: set[str] = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if not check["exp_alerts"]:
                    silent.add(check["alertname"])
                for alert in check["exp_alerts"]:
                    fired.add((check["alertname"], alert["exp_labels"]["severity"]))
    defined = {(rule["alert"], rule["labels"]["severity"]) for rule in _alert_rules()}
    assert defined - fired == set(), "alerts never seen firing in prometheus/tests"
    assert {name for name, _ in defined} - silent == set(), "alerts never seen staying silent"


@pytest.mark.parametrize("rule", _alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook(
    rule: dict[str, Any],
) -> None:
    assert rule["labels"]["severity"] in SEVERITIES  # what Alertmanager routes on
    annotations = rule["annotations"]
    assert annotations["summary"].strip()
    assert annotations["description"].strip()
    runbook = annotations["runbook_url"]
    assert runbook.startswith("docs/runbooks/"), runbook
    assert (REPO / runbook).is_file(), f"{rule['alert']}: no runbook at {runbook}"


def test_the_configuration_scrapes_both_processes_and_alerts_through_alertmanager() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: (job.get("metrics_path", "/metrics"), job["static_configs"][0]["targets"])
        for job in config["scrape_configs"]
    }
    assert targets == {
        "trading-core": ("/metrics", ["trading-core:9108"]),
        "mcp-suite": ("/metrics", ["mcp-suite:8765"]),
    }
    assert config["rule_files"] == ["rules/*.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
