"""Every Grafana panel has data: real processes, a real Prometheus, each panel's own query.

trading-core runs a paced synthetic replay (``trading-core run --metrics-port``) with the daily
order count tightened in its ``risk_limits.toml``, so that some of its orders are refused and the
rejection panels have something to show. The MCP suite serves streamable HTTP
(``mcp-suite --transport http``) and an assistant calls it through fastmcp's Client with its
bearer token: calls that succeed, an order the guardrails refuse, one that waits for a person and
is rejected, and calls that fail. Prometheus (Debian's binary) scrapes both every second with the
repository's alert rules loaded. Then every panel's expression goes through Prometheus' HTTP API
(``/api/v1/query``), as Grafana sends it; a query error, or an answer with no series (or only
NaN), fails the test, naming each such panel.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastmcp import Client
from fastmcp.client.auth import BearerAuth
from fastmcp.client.transports import StreamableHttpTransport

from trading_core.settings import PACKAGED_CONFIG_DIR

from .conftest import GRAFANA_DIR, PROMETHEUS_DIR, REPO

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

BIN = Path(sys.executable).parent
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
DATASOURCE_UID = "prometheus"
STARTUP_SECONDS = 60.0
EVENTS_SECONDS = 30.0
"""How long the suite's calls and the replay's refusals may take to show in Prometheus."""
SCRAPE_SECONDS = 1
ASSISTANT_TOKEN = "dashboard-test-assistant-token"
REPLAY_SPEED = "3000"
"""Synthetic 5m bars at 3000x: ten bars a second, 2,000 bars, longer than the test."""
RISK_LIMITS = "max_daily_orders = 4\n"
"""Tighter than the cap (200): the replay's fifth order of a day is refused, DAILY_ORDER_LIMIT."""

NO_DATA_ALLOWED: dict[str, str] = {}
"""Panels about what cannot happen in a paper replay (none now): their queries must still be
valid. The run loads a signal model trained on recorded bars, so the model panels have data."""
TRAINING_BARS = REPO.parent / "shared" / "data" / "market" / "ETH_BTC-5m.feather"


@dataclass(frozen=True)
class Panel:
    dashboard: str
    title: str
    exprs: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.dashboard}/{self.title}"


def _panels() -> list[Panel]:
    found: list[Panel] = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in _flat(board["panels"]):
            exprs = tuple(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            if exprs:
                found.append(Panel(path.stem, panel["title"], exprs))
    return found


def _flat(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Panels, with those folded inside a row."""
    for panel in panels:
        yield panel
        yield from _flat(panel.get("panels", []))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, timeout: float = 10) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


class Processes:
    """Subprocesses started by this module, each logging to a file; stopped in reverse order."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with self.log(name).open("wb") as sink:
            process = subprocess.Popen(
                args,
                cwd=self._root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self._started.append((name, process))
        return process

    def log(self, name: str) -> Path:
        return self._root / f"{name}.log"

    def logs(self) -> str:
        return "\n".join(
            f"--- {name} (exit {process.poll()}):\n{self.log(name).read_text()[-3000:]}"
            for name, process in self._started
        )

    def check_running(self) -> None:
        for name, process in self._started:
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{self.logs()}")

    def stop(self) -> None:
        for _, process in reversed(self._started):
            if process.poll() is None:
                process.terminate()
        for _, process in reversed(self._started):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)


def _wait_until(ready: Callable[[], bool], processes: Processes, seconds: float) -> bool:
    """Poll ``ready`` until it holds (True) or ``seconds`` pass (False); fail if one exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        processes.check_running()
        if ready():
            return True
        time.sleep(0.25)
    return False


def _wait_for(what: str, ready: Callable[[], bool], processes: Processes, seconds: float) -> None:
    if not _wait_until(ready, processes, seconds):
        pytest.fail(f"{what} not within {seconds} s:\n{processes.logs()}")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_")}
    return {**env, "TRADING_DATA_DIR": str(data_dir), **extra}


@dataclass(frozen=True)
class Scraped:
    """A Prometheus at ``url`` that scrapes the running processes."""

    url: str
    processes: Processes

    def query(self, expr: str) -> dict[str, Any]:
        """``/api/v1/query`` of ``expr`` now; the whole answer (status, data or error)."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        try:
            return _get(url)
        except urllib.error.HTTPError as exc:  # 400/422: the error is in the JSON body
            answer: dict[str, Any] = json.load(exc)
            return answer

    def targets(self) -> str:
        """Each scrape target's health and last error, one line each."""
        active = _get(f"{self.url}/api/v1/targets")["data"]["activeTargets"]
        return "\n".join(
            f"target {t['labels']['job']}: {t['health']} {t['lastError']}".rstrip() for t in active
        )

    def has_samples(self, expr: str) -> bool:
        return bool(_values(self.query(expr)))


def _values(answer: dict[str, Any]) -> list[float]:
    """The sample values of a successful vector or scalar answer, NaN dropped."""
    if answer.get("status") != "success":
        return []
    data = answer["data"]
    if data["resultType"] == "scalar":
        raw = [data["result"][1]]
    elif data["resultType"] == "vector":
        raw = [sample["value"][1] for sample in data["result"]]
    else:  # a matrix has no place in a panel's instant query
        return []
    return [value for value in map(float, raw) if not math.isnan(value)]


async def _exercise_suite(url: str) -> None:
    """An assistant's session: successes, a refusal, an approval rejected, and failures."""
    transport = StreamableHttpTransport(url, auth=BearerAuth(ASSISTANT_TOKEN))
    async with Client(transport, timeout=30) as client:
        for _ in range(3):
            await client.call_tool("get_quote", {"symbol": "BTC/USD"})
        await client.call_tool("get_portfolio_summary", {})
        await client.call_tool("get_risk_limits", {})
        quote = (await client.call_tool("get_quote", {"symbol": "BTC/USD"})).structured_content
        assert quote is not None
        ask = Decimal(quote["ask"])
        order = {"symbol": "BTC/USD", "side": "buy", "limit_price": str(ask)}
        # Far beyond 5 % of equity: refused by the guardrails.
        await client.call_tool("place_order", {**order, "quantity": "50"}, raise_on_error=False)
        # About 2,500: above the assistant's 1,000 without a person, within the caps.
        waiting = await client.call_tool(
            "place_order",
            {**order, "quantity": str((Decimal(2500) / ask).quantize(Decimal("0.0001")))},
            raise_on_error=False,
        )
        approval_id = (waiting.structured_content or {}).get("approval_id")
        if approval_id is not None:
            await client.call_tool(
                "reject_order", {"approval_id": approval_id, "reason": "dashboard test"}
            )
        # Failures: an order id that does not exist, an instrument that is not listed.
        await client.call_tool("get_order", {"order_id": "no-such-order"}, raise_on_error=False)
        await client.call_tool("get_quote", {"symbol": "NOPE/USD"}, raise_on_error=False)


def _prometheus_config(trading_core: int, suite: int) -> dict[str, Any]:
    return {
        "global": {
            "scrape_interval": f"{SCRAPE_SECONDS}s",
            "evaluation_interval": f"{SCRAPE_SECONDS}s",
        },
        # The repository's rules, evaluated on real series: /api/v1/rules shows each one's health.
        "rule_files": [str(PROMETHEUS_DIR / "rules" / "*.yml")],
        "scrape_configs": [
            {
                "job_name": "trading-core",
                "static_configs": [{"targets": [f"127.0.0.1:{trading_core}"]}],
            },
            {
                "job_name": "mcp-suite",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [f"127.0.0.1:{suite}"]}],
            },
        ],
    }


def _trained_model(models: Path) -> Path:
    """`trading-core train` on recorded bars: the model whose card the run exports the ECE of."""
    if not TRAINING_BARS.is_file():
        pytest.skip(f"shared market data not found at {TRAINING_BARS}")
    trained = subprocess.run(
        [str(BIN / "trading-core"), "train", "--data", str(TRAINING_BARS), "--models", str(models)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert trained.returncode == 0, trained.stderr
    (card,) = models.glob("*.card.json")
    return card


@pytest.fixture(scope="module")
def scraped(prometheus_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    root = tmp_path_factory.mktemp("dashboards")
    processes = Processes(root)
    core_port, suite_port, prometheus_port = _free_port(), _free_port(), _free_port()
    config_dir = root / "config"
    config_dir.mkdir()
    (config_dir / "risk_limits.toml").write_text(RISK_LIMITS)
    card = _trained_model(root / "models")
    try:
        processes.start(
            "trading-core",
            [
                *(str(BIN / "trading-core"), "run", "--metrics-port", str(core_port)),
                *("--speed", REPLAY_SPEED, "--quiet"),
            ],
            _env(
                root / "core-data",
                TRADING_CONFIG_DIR=str(config_dir),
                TRADING_MODEL__PATH=str(card),
            ),
        )
        processes.start(
            "mcp-suite",
            [str(BIN / "mcp-suite"), "--transport", "http", "--port", str(suite_port)],
            _env(
                root / "suite-data",
                TRADING_CONFIG_DIR=str(PACKAGED_CONFIG_DIR),
                TRADING_MCP__TOKENS__ASSISTANT=ASSISTANT_TOKEN,
            ),
        )
        config = root / "prometheus.yml"
        config.write_text(yaml.safe_dump(_prometheus_config(core_port, suite_port)))
        processes.start(
            "prometheus",
            [
                str(prometheus_bin),
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
                "--log.level=warn",
            ],
            dict(os.environ),
        )
        prometheus = Scraped(f"http://127.0.0.1:{prometheus_port}", processes)
        for port in (core_port, suite_port, prometheus_port):
            _wait_for(f"a listener on {port}", lambda p=port: _listening(p), processes, 60)
        _wait_for(
            "Prometheus scraping trading-core",
            lambda: prometheus.has_samples('up{job="trading-core"} == 1'),
            processes,
            STARTUP_SECONDS,
        )
        # The suite's scrape may fail (no /metrics): its panels then report no data, by name.
        _wait_until(
            lambda: prometheus.has_samples('up{job="mcp-suite"} == 1'), processes, EVENTS_SECONDS
        )
        # Twice: a series is first scraped with the count of the calls that created it, so only
        # a second round of calls, scraped, makes its rate (and the latency quantiles) rise.
        suite_url = f"http://127.0.0.1:{suite_port}/mcp"
        asyncio.run(_exercise_suite(suite_url))
        _wait_until(
            lambda: prometheus.has_samples("mcp_approvals_total"), processes, EVENTS_SECONDS
        )
        asyncio.run(_exercise_suite(suite_url))
        # Not a failure here when they never come: the panel test names what has no data.
        _wait_until(
            lambda: (
                prometheus.has_samples("sum(rate(mcp_approvals_total[5m])) > 0")
                and prometheus.has_samples("sum(increase(risk_rejections_total[5m])) > 0")
            ),
            processes,
            EVENTS_SECONDS,
        )
        # A few more scrapes, so that every rate has two samples and the rules have run.
        _wait_for(
            "five scrapes of the replay",
            lambda: prometheus.has_samples("count_over_time(trading_equity[1m]) >= 5"),
            processes,
            STARTUP_SECONDS,
        )
        processes.check_running()
        yield prometheus
    finally:
        processes.stop()


PANELS = _panels()


def test_the_dashboards_are_there_and_use_the_provisioned_datasource() -> None:
    names = {path.stem for path in DASHBOARDS}
    assert names == {"trading-overview", "risk", "execution", "system", "model-health"}
    provisioned = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    assert [source["uid"] for source in provisioned["datasources"]] == [DATASOURCE_UID]
    uids = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        uids.add(board["uid"])
        for panel in _flat(board["panels"]):
            assert panel["datasource"]["uid"] == DATASOURCE_UID, (path.stem, panel["title"])
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == DATASOURCE_UID, (path.stem, panel["title"])
    assert len(uids) == len(DASHBOARDS), "two dashboards share a uid"
    assert set(NO_DATA_ALLOWED) <= {panel.key for panel in PANELS}, "a stale allowlist entry"


@pytest.mark.timeout(300)
def test_every_panel_query_runs_and_every_panel_has_data(scraped: Scraped) -> None:
    errors: list[str] = []
    empty: list[str] = []
    for panel in PANELS:
        for expr in panel.exprs:
            answer = scraped.query(expr)
            if answer.get("status") != "success":
                errors.append(f"{panel.key}: {answer.get('error')} in {expr}")
            elif not _values(answer) and panel.key not in NO_DATA_ALLOWED:
                empty.append(f"{panel.key}: {expr}")
    report = [
        *(["panels whose query fails:", *errors] if errors else []),
        *(["panels without data:", *empty] if empty else []),
    ]
    assert not report, "\n".join([*report, scraped.targets()])


@pytest.mark.timeout(300)
def test_every_alert_rule_evaluates_without_error_on_the_real_series(scraped: Scraped) -> None:
    def evaluated() -> list[dict[str, Any]]:
        groups = _get(f"{scraped.url}/api/v1/rules")["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    _wait_for(
        "every rule evaluated",
        lambda: all(rule["health"] != "unknown" for rule in evaluated()),
        scraped.processes,
        30,
    )
    rules = evaluated()
    assert len(rules) == sum(
        len(group["rules"])
        for path in (PROMETHEUS_DIR / "rules").glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
    )
    unhealthy = [
        f"{rule['name']}: {rule.get('lastError')}" for rule in rules if rule["health"] != "ok"
    ]
    assert not unhealthy, unhealthy
