"""Versioned migrations: an ordered list of (version, name, steps), each applied once.

:func:`upgrade` creates ``meta.schema_migrations`` if needed, then applies every pending migration
in its own transaction and records it there. The caller passes a session that already holds the
cross-process lock (a PostgreSQL advisory lock; SQLite serialises writers itself), and each
migration re-checks inside its transaction that nobody applied it meanwhile.

Released migrations never change: databases in the field already have them. Each one renders only
the tables it introduced (migration 1 the original ten, migration 2 ``trading.approvals``), so a
database created by an older release upgrades to the same shape as a new one. To change a table
that already exists, freeze a copy of its old definition for the migration that created it and
add a new migration with the ``ALTER`` statements.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from trading_core.storage.rows import RowCodec
from trading_core.storage.schema import (
    APPROVALS,
    DECISIONS,
    FEATURE_CATALOG,
    INDICATORS,
    OHLCV,
    ORDERS,
    POSITIONS,
    RISK_LIMITS,
    SCHEMA_MIGRATIONS,
    STATE,
    STRATEGIES,
    SYSTEM_EVENTS,
    TRADES,
    Dialect,
    Index,
    Table,
    physical_name,
    quote,
    render_create_indexes,
    render_create_table,
    render_schema,
    table_ref,
)
from trading_core.storage.schema_v1 import ORDERS_V1, POSITIONS_V1, TRADES_V1
from trading_core.storage.session import SqlSession
from trading_core.storage.statements import insert_sql

log = logging.getLogger(__name__)

Step = Callable[[SqlSession], Awaitable[None]]

ADVISORY_LOCK_KEY = 7_305_861_204_117
"""PostgreSQL advisory lock id held while migrating (any constant unique to this application)."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    steps: tuple[Step, ...]


INITIAL_TABLES: tuple[Table, ...] = (
    ORDERS_V1,
    TRADES_V1,
    POSITIONS_V1,
    STATE,
    STRATEGIES,
    RISK_LIMITS,
    DECISIONS,
    SYSTEM_EVENTS,
    OHLCV,
    INDICATORS,
)
"""The tables migration 1 created as released; tables added later come with their own migration."""


async def _create_initial_schema(session: SqlSession) -> None:
    await _create_tables(session, INITIAL_TABLES)


async def _create_approvals(session: SqlSession) -> None:
    await _create_tables(session, (APPROVALS,))


async def _create_feature_catalog(session: SqlSession) -> None:
    await _create_tables(session, (FEATURE_CATALOG,))


async def _create_tables(session: SqlSession, tables: tuple[Table, ...]) -> None:
    for statement in render_schema(session.dialect, tables):
        await session.execute(statement)


async def _add_accounts(session: SqlSession) -> None:
    """Give orders, fills and positions the book they belong to; what exists is the paper one.

    Positions are keyed by (account, symbol) now, and neither dialect changes a primary key in
    place, so that table is copied aside, recreated and copied back.
    """
    dialect = session.dialect
    for table in (ORDERS, TRADES):
        await session.execute(
            f"ALTER TABLE {table_ref(table.qualified_name, dialect)} "
            f"ADD COLUMN {quote('account')} TEXT NOT NULL DEFAULT 'paper'"
        )
    positions = table_ref(POSITIONS.qualified_name, dialect)
    old_columns = ", ".join(quote(column) for column in POSITIONS_V1.column_names)
    await session.execute(f"CREATE TEMPORARY TABLE positions_v1 AS SELECT * FROM {positions}")
    await session.execute(f"DROP TABLE {positions}")
    await _create_tables(session, (POSITIONS,))
    await session.execute(
        f"INSERT INTO {positions} ({quote('account')}, {old_columns}) "
        f"SELECT 'paper', {old_columns} FROM positions_v1"
    )
    await session.execute("DROP TABLE positions_v1")


ACCOUNT_INDEXES: tuple[tuple[Table, Index], ...] = (
    (ORDERS, Index(("account", "status"))),
    (TRADES, Index(("account",))),
)
"""Migration 4's indexes: every order placed reads the account's open orders and fills."""


async def _index_accounts(session: SqlSession) -> None:
    for table, index in ACCOUNT_INDEXES:
        for statement in render_create_indexes(replace(table, indexes=(index,)), session.dialect):
            await session.execute(statement)


async def _timescale_is_usable(session: SqlSession) -> bool:
    available = await session.fetch(
        "SELECT 1 AS present FROM pg_available_extensions WHERE name = 'timescaledb'"
    )
    if not available:
        return False
    # The extension also has to be preloaded by the server, or CREATE EXTENSION fails.
    preload = await session.fetch("SELECT current_setting('shared_preload_libraries') AS libraries")
    return "timescaledb" in str(preload[0]["libraries"])


async def _use_timescale_when_available(session: SqlSession) -> None:
    """Make ``market_data.ohlcv`` a hypertable where TimescaleDB exists; else keep the table."""
    if session.dialect is not Dialect.POSTGRES:
        return
    if not await _timescale_is_usable(session):
        log.info(
            "TimescaleDB is not available on this server: %s stays an ordinary indexed table",
            OHLCV.qualified_name,
        )
        return
    await session.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    await session.execute(
        f"SELECT create_hypertable('{OHLCV.qualified_name}', 'timestamp', "
        "if_not_exists => TRUE, migrate_data => TRUE)"
    )
    log.info("TimescaleDB found: %s is a hypertable on timestamp", OHLCV.qualified_name)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", (_create_initial_schema, _use_timescale_when_available)),
    Migration(2, "approvals", (_create_approvals,)),
    Migration(3, "accounts: the paper account apart from each replay's book", (_add_accounts,)),
    Migration(
        4, "indexes on accounts (the order gate reads them on every order)", (_index_accounts,)
    ),
    Migration(5, "feature catalog (the signal model's feature store)", (_create_feature_catalog,)),
)


def latest_version(migrations: Sequence[Migration] = MIGRATIONS) -> int:
    return max((m.version for m in migrations), default=0)


async def table_exists(session: SqlSession, table: Table) -> bool:
    if session.dialect is Dialect.POSTGRES:
        rows = await session.fetch(
            "SELECT to_regclass($1) IS NOT NULL AS present", table.qualified_name
        )
        return bool(rows[0]["present"])
    rows = await session.fetch(
        "SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = ?1",
        physical_name(table.qualified_name, session.dialect),
    )
    return bool(rows)


async def current_version(session: SqlSession) -> int:
    """Highest applied version; 0 for a database that was never migrated."""
    if not await table_exists(session, SCHEMA_MIGRATIONS):
        return 0
    target = table_ref(SCHEMA_MIGRATIONS.qualified_name, session.dialect)
    rows = await session.fetch(f"SELECT MAX({quote('version')}) AS version FROM {target}")
    return int(rows[0]["version"] or 0)


async def upgrade(
    session: SqlSession,
    *,
    now: Callable[[], datetime],
    migrations: Sequence[Migration] = MIGRATIONS,
    target: int | None = None,
) -> list[int]:
    """Apply pending ``migrations`` in version order; return the versions applied now.

    ``target`` stops after that version (default: the latest); there are no downgrades, so a
    database already past it is left as it is.
    """
    _check_ordered(migrations)
    if target is not None and target not in {m.version for m in migrations}:
        raise ValueError(f"no migration has version {target}")
    codec = RowCodec(session.dialect)
    if session.dialect is Dialect.POSTGRES:
        await session.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(SCHEMA_MIGRATIONS.schema)}")
    await session.execute(
        render_create_table(SCHEMA_MIGRATIONS, session.dialect, if_not_exists=True)
    )
    record = insert_sql(SCHEMA_MIGRATIONS, codec)
    applied: list[int] = []
    for migration in migrations:
        if target is not None and migration.version > target:
            break
        async with session.transaction():
            if await current_version(session) >= migration.version:
                continue
            log.info("applying migration %d: %s", migration.version, migration.name)
            for step in migration.steps:
                await step(session)
            values = {"version": migration.version, "name": migration.name, "applied_at": now()}
            await session.execute(
                record,
                *codec.encode_row(SCHEMA_MIGRATIONS, values, ("version", "name", "applied_at")),
            )
        applied.append(migration.version)
    if applied:
        log.info("schema upgraded to version %d", applied[-1])
    return applied


def _check_ordered(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)) or (versions and versions[0] < 1):
        raise ValueError(f"migration versions must be unique, increasing and >= 1: {versions}")
