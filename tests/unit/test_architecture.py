"""Import contracts: the dependency direction and the purity of the domain hold in the code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "trading-core" / "src" / "trading_core"
IO_PACKAGES = {
    "asyncpg",
    "aiosqlite",
    "sqlite3",
    "redis",
    "ccxt",
    "ib_async",
    "mcp",
    "fastmcp",
    "telegram",
    "prometheus_client",
    "socket",
    "aiohttp",
    "requests",
}
PURE_PACKAGES = ("domain", "risk", "portfolio")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_packages_import_no_io_library(package: str) -> None:
    offenders = {
        f"{path.relative_to(CORE)} imports {module}"
        for path in _python_files(CORE / package)
        for module in _imported_modules(path)
        if module.split(".")[0] in IO_PACKAGES
    }
    assert not offenders, sorted(offenders)


def test_trading_core_never_imports_agents_or_servers() -> None:
    offenders = {
        f"{path.relative_to(CORE)} imports {module}"
        for path in _python_files(CORE)
        for module in _imported_modules(path)
        if module.split(".")[0] in {"trading_agents", "mcp_servers", "agents"}
    }
    assert not offenders, sorted(offenders)


def test_only_the_execution_package_submits_to_a_broker() -> None:
    offenders = []
    for path in _python_files(CORE):
        if path.is_relative_to(CORE / "execution"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "submit"
                and not _a_process_pool(path, node.func)
            ):
                offenders.append(f"{path.relative_to(CORE)}:{node.lineno}")
    assert not offenders, offenders


POOL_SUBMITS = {("reporting/grid.py", "pool")}
"""(file, receiver) of ``submit`` calls that hand work to a process pool, not to a broker."""


def _a_process_pool(path: Path, call: ast.Attribute) -> bool:
    receiver = call.value.id if isinstance(call.value, ast.Name) else None
    return (str(path.relative_to(CORE)), receiver) in POOL_SUBMITS


def test_the_scan_would_notice_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import redis.asyncio\nfrom asyncpg import Pool\n", encoding="utf-8")
    assert _imported_modules(sample) == {"redis.asyncio", "asyncpg"}
