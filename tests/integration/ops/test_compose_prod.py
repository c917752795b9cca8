"""docker-compose.prod.yml as Docker Compose itself reads it (`docker compose config`).

Compose validates the file against the Compose Specification and resolves it without a Docker
engine; the tests then check the resolved model: pinned images, health checks, restart policies,
limits, secrets that exist and settings the processes really have.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from trading_core.domain.errors import ConfigurationError
from trading_core.settings import PACKAGED_CONFIG_DIR, load_settings

from .tools import COMPOSE_FILE, REPO, compose, compose_model

TRADING_SERVICES = ("trading-core", "mcp-suite")
PINNED = re.compile(
    r"^[a-z0-9./_-]+(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]*))?(@sha256:[0-9a-f]{64})?$"
)


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    return compose_model()


def _services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = model["services"]
    return services


def test_docker_compose_config_accepts_the_file() -> None:
    result = compose("config", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # no warning either (e.g. `version:`)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (("condition: service_healthy", "condition: service_happy"), "condition"),
        (("stop_grace_period: 60s", "stop_grace_period: 60 seconds"), "stop_grace_period"),
        (("      start_period: 30s", "      start_periode: 30s"), "start_periode"),
        (("          memory: 1g", "          memory: lots"), "memory"),
    ],
)
def test_the_validator_refuses_a_broken_copy(
    tmp_path: Path, change: tuple[str, str], complaint: str
) -> None:
    """The control: the same file with one mistake fails, so a pass above means something."""
    text = COMPOSE_FILE.read_text()
    assert change[0] in text
    broken = tmp_path / "docker-compose.prod.yml"
    broken.write_text(text.replace(change[0], change[1], 1))
    result = compose("config", "--quiet", file=broken)
    assert result.returncode != 0
    assert complaint in result.stderr, result.stderr


def test_every_image_is_pinned_to_an_exact_tag(model: dict[str, Any]) -> None:
    for name, service in _services(model).items():
        image = service.get("image", "")
        match = PINNED.match(image)
        assert match, f"{name}: {image!r}"
        tag = match.group("tag")
        assert tag is not None or "@sha256:" in image, f"{name}: {image} has no tag"
        assert tag not in ("latest", "stable", "main", "edge"), f"{name}: {image}"
        assert re.search(r"\d", tag or ""), f"{name}: {image}: a version, not a moving name"


def test_every_service_has_a_healthcheck_a_restart_policy_and_limits(
    model: dict[str, Any],
) -> None:
    for name, service in _services(model).items():
        check = service.get("healthcheck", {})
        assert not check.get("disable", False), name
        assert check.get("test", [None])[0] in ("CMD", "CMD-SHELL"), f"{name}: {check}"
        assert service.get("restart") in ("always", "unless-stopped", "on-failure"), name
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        assert limits.get("cpus"), f"{name}: {limits}"
        assert limits.get("memory"), f"{name}: {limits}"
        for mount in service.get("volumes", []):
            # State in named volumes; bind mounts only for read-only configuration.
            assert mount["type"] == "volume" or mount.get("read_only"), f"{name}: {mount}"


def test_published_ports_listen_on_loopback_only(model: dict[str, Any]) -> None:
    for name, service in _services(model).items():
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"


def test_trading_core_runs_the_loop_through_the_suite(model: dict[str, Any]) -> None:
    services = _services(model)
    core, suite = services["trading-core"], services["mcp-suite"]
    assert core["command"] == [
        *("trading-core", "run", "--source", "kraken", "--tools", "mcp"),
        *("--mcp-url", "http://mcp-suite:8765/mcp", "--metrics-port", "9108"),
    ]
    assert suite["command"] == [
        *("mcp-suite", "--transport", "http", "--host", "0.0.0.0", "--port", "8765"),
    ]
    for service in (core, suite):
        env = service["environment"]
        assert env["TRADING_DB_URL"] == "postgresql://trading@postgres:5432/trading"
        assert env["TRADING_REDIS_URL"] == "redis://redis:6379/0"
    # The same market on both sides (a run refuses a suite pricing another one).
    for key in ("TRADING_SOURCE", "TRADING_SYMBOLS"):
        assert core["environment"][key] == suite["environment"][key]
    # The Host trading-core sends is one the suite accepts.
    assert (
        "mcp-suite"
        in load_settings(
            config_dir=PACKAGED_CONFIG_DIR,
            mcp={"allowed_hosts": _json_list(suite["environment"]["TRADING_MCP__ALLOWED_HOSTS"])},
        ).mcp.allowed_hosts
    )
    assert core["environment"]["TRADING_INFLUX__URL"] == "http://influxdb:8086"
    assert core["depends_on"]["mcp-suite"]["condition"] == "service_healthy"
    assert core["depends_on"]["influxdb"]["condition"] == "service_started"


def test_the_two_processes_share_the_token_and_influx_writes_with_its_own(
    model: dict[str, Any],
) -> None:
    services = _services(model)

    def mounted(service: str) -> dict[str, str]:
        return {s["target"]: s["source"] for s in services[service].get("secrets", [])}

    core, suite = mounted("trading-core"), mounted("mcp-suite")
    token = "TRADING_MCP__TOKENS__TRADING_CORE"
    assert core[token] == suite[token] == "mcp_token_trading_core"
    assert core["TRADING_INFLUX__TOKEN"] == "influxdb_token"
    influx_env = services["influxdb"]["environment"]
    assert influx_env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE"] == "/run/secrets/influxdb_token"
    assert influx_env["DOCKER_INFLUXDB_INIT_ORG"] == core_env(model)["TRADING_INFLUX__ORG"]
    assert influx_env["DOCKER_INFLUXDB_INIT_BUCKET"] == core_env(model)["TRADING_INFLUX__BUCKET"]
    assert core["PGPASSWORD"] == "postgres_password"
    pg_env = services["postgres"]["environment"]
    assert pg_env["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"


def core_env(model: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = _services(model)["trading-core"]["environment"]
    return env


@pytest.mark.parametrize("service", TRADING_SERVICES)
def test_every_trading_setting_in_the_file_is_one_the_process_reads(
    model: dict[str, Any], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The container's environment, secrets included, loads as the process's settings: a
    misspelt TRADING_* variable is refused (unknown keys are), not silently ignored."""
    spec = _services(model)[service]
    env = {k: v for k, v in spec["environment"].items() if k.startswith("TRADING_")}
    env |= {
        s["target"]: "secret-value" for s in spec["secrets"] if s["target"].startswith("TRADING_")
    }
    for key in [k for k in os.environ if k.startswith("TRADING_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TRADING_CONFIG_DIR", str(PACKAGED_CONFIG_DIR))
    settings = load_settings()
    assert settings.db_url == env["TRADING_DB_URL"]
    assert [t.get_secret_value() for t in settings.mcp.tokens.values()]
    if service == "trading-core":
        assert settings.influx.url == "http://influxdb:8086"
        assert settings.influx.token is not None
    monkeypatch.setenv("TRADING_INFLUX__URLL", "http://influxdb:8086")
    with pytest.raises(ConfigurationError):
        load_settings()


def test_the_secrets_script_makes_every_secret_the_file_mounts(
    model: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "secrets"
    first = subprocess.run(
        [str(REPO / "scripts" / "make-secrets"), str(target)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    wanted = {Path(secret["file"]).name for secret in model["secrets"].values()}
    made = {path.name: path.read_text() for path in target.iterdir()}
    assert set(made) == wanted
    given = {name for name in made if name.startswith("alertmanager_")}
    assert given == {"alertmanager_telegram_bot_token", "alertmanager_smtp_password"}
    assert all(made[name] == "" for name in given)  # an operator's values: left to fill in
    generated = {name: value for name, value in made.items() if name not in given}
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in generated.values()), made
    assert len(set(generated.values())) == len(generated)  # each one its own
    assert target.stat().st_mode & 0o777 == 0o700
    again = subprocess.run(
        [str(REPO / "scripts" / "make-secrets"), str(target)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert {path.name: path.read_text() for path in target.iterdir()} == made  # kept
    # Every secret file lives in the gitignored ./secrets/.
    assert {Path(s["file"]).parent for s in model["secrets"].values()} == {REPO / "secrets"}
    if shutil.which("git") and (REPO / ".git").exists():
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", "secrets/postgres_password"], cwd=REPO, check=False
        )
        assert ignored.returncode == 0, "./secrets/ must be gitignored"


def _json_list(text: str) -> list[str]:
    value = json.loads(text)
    assert isinstance(value, list)
    return [str(item) for item in value]
