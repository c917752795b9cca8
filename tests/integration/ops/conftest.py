"""The monitoring files and the real binaries that check them (Debian's packages).

``.ci/install-monitoring-tools`` installs promtool and prometheus (package ``prometheus``) and
amtool 0.26+ (package ``prometheus-alertmanager``); a test that needs one fails, never skips,
when it is missing, as the tests that need PostgreSQL and Redis do.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = REPO / "prometheus"
ALERTMANAGER_CONFIG = REPO / "alertmanager" / "alertmanager.yml"
GRAFANA_DIR = REPO / "grafana"
INSTALL_HINT = "install it with `sudo .ci/install-monitoring-tools` (Debian's packages)"
AMTOOL_MIN_VERSION = (0, 26)
"""The first amtool that reads telegram_configs' bot_token_file."""


def _binary(name: str) -> Path:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found on PATH: {INSTALL_HINT}")
    return Path(found)


def run_tool(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a checker; its output (both streams) is in ``.stdout``."""
    return subprocess.run(
        [str(arg) for arg in args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )


@pytest.fixture(scope="session")
def promtool() -> Path:
    return _binary("promtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> Path:
    return _binary("prometheus")


@pytest.fixture(scope="session")
def amtool() -> Path:
    path = _binary("amtool")
    version = run_tool(path, "--version").stdout
    match = re.search(r"version (\d+)\.(\d+)\.", version)
    assert match is not None, version
    if (int(match[1]), int(match[2])) < AMTOOL_MIN_VERSION:
        pytest.fail(
            f"amtool {match[1]}.{match[2]} cannot read telegram_configs' bot_token_file "
            f"(0.26+ can): {INSTALL_HINT}"
        )
    return path


@pytest.fixture(scope="session")
def alertmanager_bin(amtool: Path) -> Path:
    """The server of the same package as ``amtool`` (Debian names it prometheus-alertmanager)."""
    return _binary("prometheus-alertmanager")
