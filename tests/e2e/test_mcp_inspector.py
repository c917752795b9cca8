"""MCP Inspector's CLI, an independent client, lists and calls `mcp-suite`'s tools in both eras.

The work is in ``scripts/mcp-inspector-check`` (runnable by hand); this test runs it against the
console script of the interpreter running the tests. The first run downloads the Inspector (and,
where the machine's Node.js is too old for it, a Node.js from PyPI), hence the long timeout.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.e2e

SCRIPT = REPO / "scripts" / "mcp-inspector-check"
SUITE = Path(sys.executable).parent / "mcp-suite"
SKIPPED = 77
"""The script's exit status when it cannot run here (no npx, no usable Node.js)."""


@pytest.mark.timeout(1500)
def test_inspector_lists_and_calls_tools_in_both_eras(tmp_path: Path) -> None:
    if not SUITE.is_file():
        pytest.skip(f"console script {SUITE} not installed (run `uv sync`)")
    if shutil.which("npx") is None:
        pytest.skip("npx not found: MCP Inspector needs Node.js with npm")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADING_")}
    # Its own session, so a timeout ends npx, node and the server it launched as well.
    process = subprocess.Popen(
        [str(SCRIPT)],
        cwd=tmp_path,
        env={**env, "MCP_SUITE": str(SUITE)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=1400)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if result.returncode == SKIPPED:
        pytest.skip((result.stderr.strip().splitlines() or ["mcp-inspector-check skipped"])[-1])
    assert result.returncode == 0, result.stdout + result.stderr
    for era in ("legacy", "modern"):
        for step in ("tools/list ->", "get_quote BTC/USD ->", "get_portfolio_summary ->"):
            assert f"{era}: {step}" in result.stdout, result.stdout
    assert "all checks passed" in result.stdout
