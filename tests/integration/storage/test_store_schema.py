"""Migrations and durability, on both backends."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.ports.store import Store
from trading_core.storage.factory import open_store, sqlite_path
from trading_core.storage.migrations import latest_version

pytestmark = pytest.mark.integration


def _inspect_sqlite_file(path: Path) -> tuple[bool, str, set[str]]:
    """Whether the file exists, its journal mode and its tables, seen by a separate connection."""
    if not path.is_file():
        return False, "", set()
    raw = sqlite3.connect(path)
    try:
        mode = raw.execute("PRAGMA journal_mode").fetchone()[0]
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    finally:
        raw.close()
    return True, mode, tables


async def test_upgrade_applies_each_version_once_and_records_it(fresh_store: Store) -> None:
    assert await fresh_store.schema_version() == 0

    assert await fresh_store.upgrade() == list(range(1, latest_version() + 1))
    assert await fresh_store.schema_version() == latest_version()
    assert await fresh_store.upgrade() == []
    assert await fresh_store.schema_version() == latest_version()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_upgrade_checks_for_timescaledb_and_says_what_it_chose(
    fresh_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="trading_core.storage.migrations"):
        await fresh_store.upgrade()

    assert "TimescaleDB" in caplog.text
    assert "market_data.ohlcv" in caplog.text


async def test_two_processes_upgrading_at_once_apply_each_migration_once(
    store_url: str, clock: SimulatedClock
) -> None:
    first = await open_store(store_url, clock=clock)
    second = await open_store(store_url, clock=clock)
    try:
        async with asyncio.timeout(30):
            applied = await asyncio.gather(first.upgrade(), second.upgrade())
        assert sorted(applied[0] + applied[1]) == list(range(1, latest_version() + 1))
        assert await second.schema_version() == latest_version()
    finally:
        await first.close()
        await second.close()


async def test_a_write_is_visible_to_another_connection_when_the_call_returns(
    store: Store, store_url: str, clock: SimulatedClock
) -> None:
    await store.put_state("session", {"state": "HALTED", "reason": "manual"})

    other = await open_store(store_url, clock=clock)
    try:
        assert await other.get_state("session") == {"state": "HALTED", "reason": "manual"}
    finally:
        await other.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sqlite_file_is_created_in_new_directories_in_wal_mode(
    store: Store, store_url: str
) -> None:
    path = Path(sqlite_path(store_url))
    exists, mode, tables = await asyncio.to_thread(_inspect_sqlite_file, path)
    assert exists
    assert mode == "wal"
    assert {"trading_orders", "audit_decisions", "meta_schema_migrations"} <= tables


async def test_relative_sqlite_url_is_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: SimulatedClock
) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_store("sqlite:///state/dir/trading.db", clock=clock)
    try:
        assert store.url == f"sqlite:///{tmp_path / 'state' / 'dir' / 'trading.db'}"
        assert (tmp_path / "state" / "dir" / "trading.db").is_file()
    finally:
        await store.close()


async def test_in_memory_sqlite_store_migrates_and_stores(clock: SimulatedClock) -> None:
    store = await open_store("sqlite:///:memory:", clock=clock)
    try:
        assert await store.upgrade() == list(range(1, latest_version() + 1))
        await store.put_state("k", {"v": 1})
        assert await store.get_state("k") == {"v": 1}
    finally:
        await store.close()


async def test_the_account_reads_of_the_order_gate_have_their_indexes(
    store: Store, store_url: str
) -> None:
    plan_sql = (
        "SELECT * FROM {orders} WHERE account = 'paper' AND status = 'sent'",
        "SELECT * FROM {trades} WHERE account = 'paper'",
    )
    if store_url.startswith("sqlite"):
        raw = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        try:
            plans = [
                " ".join(
                    str(row[-1])
                    for row in raw.execute(
                        "EXPLAIN QUERY PLAN "
                        + sql.format(orders="trading_orders", trades="trading_trades")
                    )
                )
                for sql in plan_sql
            ]
        finally:
            raw.close()
        assert "ix_trading_orders_account_status" in plans[0], plans[0]
        assert "ix_trading_trades_account" in plans[1], plans[1]
        return
    connection = await asyncpg.connect(store_url)
    try:
        names = {
            row["indexname"]
            for row in await connection.fetch(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'trading'"
            )
        }
    finally:
        await connection.close()
    assert {"ix_trading_orders_account_status", "ix_trading_trades_account"} <= names
