"""What the numbers were measured on: machine, interpreter, commit, library versions, inputs."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from trading_core.adapters.clock import SystemClock
from trading_core.settings import PACKAGED_CONFIG_DIR

REPO_ROOT = Path(__file__).resolve().parents[1]
MARKET_DATA = REPO_ROOT.parent / "shared" / "data" / "market"
REPLAY_FILE = MARKET_DATA / "ETH_BTC-5m.feather"
"""The real bar file every market-data row works on (5,760 five-minute ETH/BTC bars)."""
CONFIG_DIR = PACKAGED_CONFIG_DIR


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cores: int
    cores_usable: int
    python: str
    platform: str
    date: str
    commit: str


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The ``model name`` line of /proc/cpuinfo (the processor name elsewhere)."""
    try:
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} (with uncommitted changes)" if dirty else head


def describe_machine() -> Machine:
    """The header of the report. A benchmark may read the wall clock: it dates the run."""
    return Machine(
        cpu_model=cpu_model(),
        cores=os.cpu_count() or 1,
        cores_usable=len(os.sched_getaffinity(0)),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        platform=platform.platform(),
        date=SystemClock().now().strftime("%Y-%m-%d %H:%M UTC"),
        commit=_commit(),
    )


def versions(*distributions: str) -> dict[str, str]:
    """Installed versions of ``distributions`` ("not installed" when absent)."""
    found: dict[str, str] = {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
