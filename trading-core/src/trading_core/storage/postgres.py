"""PostgreSQL store (production): an asyncpg pool, COPY for the bulk paths.

JSONB values go through codecs installed on every pooled connection (binary format, so COPY can
carry them too). Each call takes a connection from the pool and, outside an explicit transaction,
asyncpg autocommits: a write is durable when the awaited call returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg

from trading_core.domain.errors import ConfigurationError, StorageUnavailableError
from trading_core.ports.clock import Clock
from trading_core.storage.migrations import ADVISORY_LOCK_KEY
from trading_core.storage.order_gate import GATE_TIMEOUT_S, POLL_S, busy
from trading_core.storage.rows import dumps_json, loads_json
from trading_core.storage.schema import DECISIONS, OHLCV, Dialect, physical_name, table_ref
from trading_core.storage.session import Row, SqlSession, UniqueViolation
from trading_core.storage.sql_store import DECISION_COLUMNS, SqlStore
from trading_core.storage.statements import upsert_from_sql
from trading_core.storage.urls import endpoint, mask_url, redact

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
ORDER_GATE_LOCK_SPACE = 0x7AD1
"""First key of the order gates' advisory locks (the second is the account's hash)."""
PROCESS_LEASE_LOCK_SPACE = 0x7AD2
"""First key of the process leases' advisory locks (the second is the owner's hash)."""
COMMAND_TIMEOUT_S = 60.0
CLOSE_TIMEOUT_S = 10.0
_JSONB_FORMAT_VERSION = b"\x01"  # JSONB's binary wire format is a version byte, then the text

# Errors that mean "the server went away", as opposed to a bad statement.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
)


def _encode_jsonb(value: Any) -> bytes:
    return _JSONB_FORMAT_VERSION + dumps_json(value).encode()


def _decode_jsonb(data: bytes) -> Any:
    return loads_json(data[1:])


async def _init_connection(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec(
        "jsonb",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        schema="pg_catalog",
        format="binary",
    )


class _PostgresSession:
    """:class:`SqlSession` over one pooled connection."""

    dialect = Dialect.POSTGRES

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def execute(self, sql: str, *args: Any) -> None:
        try:
            await self.connection.execute(sql, *args)
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from exc

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            await self.connection.executemany(sql, rows)
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from exc

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            records = await self.connection.fetch(sql, *args)
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from exc
        return [dict(record) for record in records]

    def transaction(self) -> AbstractAsyncContextManager[None]:
        transaction: AbstractAsyncContextManager[None] = self.connection.transaction()
        return transaction


def _postgres(session: SqlSession) -> _PostgresSession:
    if not isinstance(session, _PostgresSession):
        raise TypeError(f"expected a PostgreSQL session, got {type(session).__name__}")
    return session


class PostgresStore(SqlStore):
    """The ``Store`` port on PostgreSQL. Open with :meth:`connect`, then call ``upgrade()``."""

    dialect = Dialect.POSTGRES

    def __init__(self, pool: asyncpg.Pool, dsn: str, *, clock: Clock | None = None) -> None:
        super().__init__(mask_url(dsn), clock=clock)
        self._pool: asyncpg.Pool | None = pool
        self._endpoint = endpoint(dsn)
        self._gates: dict[str, asyncio.Lock] = {}

    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        clock: Clock | None = None,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> PostgresStore:
        """Open a pool on ``dsn``; StorageUnavailableError within ``connect_timeout`` if down."""
        where = f"{endpoint(dsn)} ({mask_url(dsn)})"
        try:
            async with asyncio.timeout(connect_timeout + 1):  # bounds DNS and retries as well
                pool = await asyncpg.create_pool(
                    dsn,
                    min_size=min_size,
                    max_size=max_size,
                    timeout=connect_timeout,
                    command_timeout=COMMAND_TIMEOUT_S,
                    init=_init_connection,
                    server_settings={"application_name": "trading-core"},
                )
        except asyncpg.ClientConfigurationError as exc:
            raise ConfigurationError(
                f"invalid PostgreSQL URL {mask_url(dsn)}: {redact(str(exc), dsn)}"
            ) from None
        except (*_CONNECTION_ERRORS, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            reason = redact(str(exc), dsn) or type(exc).__name__
            raise StorageUnavailableError(f"cannot reach PostgreSQL at {where}: {reason}") from None
        log.info("connected to PostgreSQL at %s", where)
        return cls(pool, dsn, clock=clock)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[SqlSession]:
        if self._pool is None:
            raise StorageUnavailableError(f"the store at {self.url} is closed")
        try:
            async with self._pool.acquire(timeout=COMMAND_TIMEOUT_S) as connection:
                yield _PostgresSession(connection)
        except _CONNECTION_ERRORS as exc:
            reason = str(exc) or type(exc).__name__
            raise StorageUnavailableError(
                f"PostgreSQL at {self._endpoint} is unavailable: {reason}"
            ) from exc

    @asynccontextmanager
    async def order_gate(
        self, account: str, *, timeout: float = GATE_TIMEOUT_S
    ) -> AsyncIterator[None]:
        """This account's check-and-send, one at a time across processes (advisory lock)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # Tasks of this process queue here, holding no pooled connection while they wait (a
        # crowd of waiters would otherwise starve the holder of connections).
        local = self._gates.setdefault(account, asyncio.Lock())
        try:
            await asyncio.wait_for(local.acquire(), timeout)
        except TimeoutError:
            raise busy(account, timeout) from None
        try:
            async with self._gate_section(account, deadline, timeout):
                yield
        finally:
            local.release()

    @asynccontextmanager
    async def _gate_section(
        self, account: str, deadline: float, timeout: float
    ) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        async with self._session() as session:
            connection = _postgres(session).connection
            while not await connection.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext($2))", ORDER_GATE_LOCK_SPACE, account
            ):
                if loop.time() >= deadline:
                    raise busy(account, timeout)
                await asyncio.sleep(POLL_S)
            try:
                yield
            finally:
                await session.execute(
                    "SELECT pg_advisory_unlock($1, hashtext($2))", ORDER_GATE_LOCK_SPACE, account
                )

    @asynccontextmanager
    async def process_lease(self, owner: str) -> AsyncIterator[None]:
        """Hold ``owner``'s lease (an advisory lock on a connection kept for the block)."""
        async with self._session() as session:
            connection = _postgres(session).connection
            await connection.execute(
                "SELECT pg_advisory_lock($1, hashtext($2))", PROCESS_LEASE_LOCK_SPACE, owner
            )
            try:
                yield
            finally:
                await connection.execute(
                    "SELECT pg_advisory_unlock($1, hashtext($2))", PROCESS_LEASE_LOCK_SPACE, owner
                )

    async def lease_alive(self, owner: str) -> bool:
        """Whether the process holding ``owner``'s lease is still connected."""
        async with self._session() as session:
            connection = _postgres(session).connection
            taken = await connection.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext($2))", PROCESS_LEASE_LOCK_SPACE, owner
            )
            if taken:
                await connection.execute(
                    "SELECT pg_advisory_unlock($1, hashtext($2))", PROCESS_LEASE_LOCK_SPACE, owner
                )
        return not taken

    @asynccontextmanager
    async def _migration_session(self) -> AsyncIterator[SqlSession]:
        async with self._session() as session:
            # Session-level lock: a second process waits here until the first has finished.
            await session.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
            try:
                yield session
            finally:
                await session.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)

    async def _write_decision_rows(self, session: SqlSession, rows: list[tuple[Any, ...]]) -> None:
        schema, table = physical_name(DECISIONS.qualified_name, Dialect.POSTGRES).split(".")
        await _postgres(session).connection.copy_records_to_table(
            table, schema_name=schema, columns=list(DECISION_COLUMNS), records=rows
        )

    async def _write_bar_rows(self, session: SqlSession, rows: list[tuple[Any, ...]]) -> None:
        connection = _postgres(session).connection
        staging = "incoming_ohlcv"
        target = table_ref(OHLCV.qualified_name, Dialect.POSTGRES)
        # Dropped at commit; the caller holds a transaction around this call.
        await connection.execute(
            f'CREATE TEMP TABLE "{staging}" (LIKE {target} INCLUDING DEFAULTS) ON COMMIT DROP'
        )
        await connection.copy_records_to_table(
            staging, columns=list(OHLCV.column_names), records=rows
        )
        await connection.execute(upsert_from_sql(OHLCV, self._codec, staging))

    async def close(self) -> None:
        """Close the pool (idempotent); connections still busy after a grace period are cut."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await pool.close()
        except TimeoutError:
            log.warning("PostgreSQL pool did not close in %ss; terminating", CLOSE_TIMEOUT_S)
            pool.terminate()
