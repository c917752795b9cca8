"""Backup and restore round trips on the real PostgreSQL and on SQLite.

Back up, destroy (drop every schema, or delete the file), restore, and compare the row counts of
every table and a checksum of audit.decisions with what was there before.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.errors import ConfigurationError, DataError
from trading_core.domain.fill import Fill
from trading_core.domain.order import Order
from trading_core.domain.signal import Decision
from trading_core.ports.store import Store
from trading_core.settings import PACKAGED_CONFIG_DIR
from trading_core.storage.backup import backup_database, checksum_file, restore_database
from trading_core.storage.factory import open_store, sqlite_path
from trading_core.storage.schema import POSTGRES_SCHEMAS

from .conftest import T0

TABLES = ("trading.orders", "trading.trades", "audit.decisions", "audit.system_events")


async def _fill(
    store: Store,
    make_order: Callable[..., Order],
    make_fill: Callable[..., Fill],
    make_decision: Callable[..., Decision],
) -> None:
    for i in range(3):
        await store.save_order(make_order(order_id=f"o{i}", client_order_id=f"c{i}"))
        await store.save_fill(make_fill(fill_id=f"f{i}", order_id=f"o{i}"))
    await store.record_decisions([make_decision(reasoning=f"why {i}") for i in range(25)])


async def _snapshot(url: str) -> dict[str, object]:
    """Row counts per table and a SHA-256 of every audit.decisions row in id order."""
    store = await open_store(url, clock=SimulatedClock(T0))
    try:
        decisions = await store.list_decisions()
        counts = {
            "trading.orders": len(await store.list_orders()),
            "trading.trades": len(await store.list_fills()),
            "audit.decisions": len(decisions),
        }
    finally:
        await store.close()
    digest = hashlib.sha256()
    for row in decisions:
        digest.update(row.model_dump_json().encode())
    return {**counts, "decisions_sha256": digest.hexdigest()}


def _delete_sqlite(url: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(sqlite_path(url) + suffix).unlink(missing_ok=True)


async def _destroy(url: str) -> None:
    """Lose the database, then start a new empty one (what a restore is run against)."""
    if url.startswith("sqlite"):
        _delete_sqlite(url)
    else:
        await _drop_schemas(url)
    store = await open_store(url, clock=SimulatedClock(T0))
    try:
        await store.upgrade()
    finally:
        await store.close()


async def _drop_schemas(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        for schema in POSTGRES_SCHEMAS:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.execute('DROP SCHEMA IF EXISTS "meta" CASCADE')
    finally:
        await connection.close()


async def test_a_backup_restores_every_row_after_the_database_is_gone(
    store: Store,
    store_url: str,
    tmp_path: Path,
    make_order: Callable[..., Order],
    make_fill: Callable[..., Fill],
    make_decision: Callable[..., Decision],
) -> None:
    await _fill(store, make_order, make_fill, make_decision)
    before = await _snapshot(store_url)
    await store.close()

    made, removed = backup_database(store_url, tmp_path / "backups", now=T0)
    assert removed == []
    assert checksum_file(made.path).read_text().split() == [made.sha256, made.path.name]
    await _destroy(store_url)
    assert (await _snapshot(store_url))["audit.decisions"] == 0  # really gone: a new database

    restore_database(store_url, made.path)

    after = await _snapshot(store_url)
    assert after == before
    assert after["audit.decisions"] == 25


async def test_a_changed_backup_is_refused_and_the_database_left_alone(
    store: Store,
    store_url: str,
    tmp_path: Path,
    make_order: Callable[..., Order],
    make_fill: Callable[..., Fill],
    make_decision: Callable[..., Decision],
) -> None:
    await _fill(store, make_order, make_fill, make_decision)
    await store.close()
    made, _ = backup_database(store_url, tmp_path / "backups", now=T0)
    before = await _snapshot(store_url)
    with made.path.open("r+b") as handle:  # one flipped byte in the middle
        handle.seek(made.size // 2)
        byte = handle.read(1)
        handle.seek(made.size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))

    with pytest.raises(DataError, match="does not match its checksum"):
        restore_database(store_url, made.path)
    assert await _snapshot(store_url) == before


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_retention_keeps_the_newest_backups_and_kinds_do_not_mix(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    await store.close()
    directory = tmp_path / "backups"
    made = [
        backup_database(store_url, directory, now=T0.replace(minute=m), keep=2) for m in range(4)
    ]
    kept = sorted(p.name for p in directory.iterdir())
    assert kept == sorted(
        name for b, _ in made[-2:] for name in (b.path.name, b.path.name + ".sha256")
    )
    assert [p.name for p in made[-1][1]] == [made[1][0].path.name]
    with pytest.raises(ConfigurationError, match="is a SQLite backup"):
        restore_database("postgresql://127.0.0.1:5432/whatever", made[-1][0].path)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_scripts_back_up_and_restore_from_any_directory(store_url: str, tmp_path: Path) -> None:
    """``scripts/backup`` and ``scripts/restore`` as an operator runs them, on PostgreSQL."""
    scripts = Path(__file__).resolve().parents[3] / "scripts"
    env = {**os.environ, "TRADING_CONFIG_DIR": str(PACKAGED_CONFIG_DIR)}
    upgraded = subprocess.run(
        [sys.executable, "-m", "trading_core.cli", "db", "upgrade", "--db-url", store_url],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    backed = subprocess.run(
        [str(scripts / "backup"), "--to", "kept", "--db-url", store_url],
        cwd=tmp_path, capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert backed.returncode == 0, backed.stderr
    (dump,) = (tmp_path / "kept").glob("trading-*.pgdump")  # relative to where it was typed
    refused = subprocess.run(
        [str(scripts / "restore"), str(dump), "--db-url", store_url],
        cwd=tmp_path, capture_output=True, text=True, env=env, input="n\n", check=False,
        timeout=300,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "nothing restored" in refused.stdout
    restored = subprocess.run(
        [str(scripts / "restore"), str(dump), "--yes", "--db-url", store_url],
        cwd=tmp_path, capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.startswith("restored ")
