"""SQLite store (embedded default): one aiosqlite connection, WAL, autocommit per call.

The connection runs with ``isolation_level=None`` so every statement outside an explicit
``BEGIN IMMEDIATE ... COMMIT`` commits on its own: a write is committed when the awaited call
returns. ``synchronous=FULL`` makes that commit survive a power cut too. Calls are serialised with
an asyncio lock because one connection cannot interleave two transactions.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from trading_core.domain.errors import StorageUnavailableError
from trading_core.ports.clock import Clock
from trading_core.storage.order_gate import (
    GATE_TIMEOUT_S,
    busy,
    file_gate,
    file_lease,
    file_lease_alive,
    gate_file,
)
from trading_core.storage.schema import Dialect
from trading_core.storage.session import Row, SqlSession, UniqueViolation
from trading_core.storage.sql_store import SqlStore

log = logging.getLogger(__name__)

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 5_000
"""How long a writer waits for another process's write transaction before failing."""


class _SqliteSession:
    """:class:`SqlSession` over the store's single connection."""

    dialect = Dialect.SQLITE

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, *args: Any) -> None:
        await self.fetch(sql, *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            cursor = await self._connection.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise _translate(exc) from exc
        await cursor.close()

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            rows = await self._connection.execute_fetchall(sql, args)
        except sqlite3.IntegrityError as exc:
            raise _translate(exc) from exc
        return [dict(zip(row.keys(), row, strict=True)) for row in rows]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        # IMMEDIATE takes the write lock up front, so a read-then-write cannot deadlock.
        await self.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            await self.execute("ROLLBACK")
            raise
        await self.execute("COMMIT")


def _translate(exc: sqlite3.IntegrityError) -> Exception:
    message = str(exc)
    if "UNIQUE constraint failed" in message:
        return UniqueViolation(message)
    return exc


class SqliteStore(SqlStore):
    """The ``Store`` port on a SQLite file. Open with :meth:`open`, then call ``upgrade()``."""

    dialect = Dialect.SQLITE

    def __init__(
        self, connection: aiosqlite.Connection, path: str, *, clock: Clock | None = None
    ) -> None:
        super().__init__(f"sqlite:///{path}", clock=clock)
        self._connection: aiosqlite.Connection | None = connection
        self._lock = asyncio.Lock()
        self._gates: dict[str, asyncio.Lock] = {}
        self.path = path

    @classmethod
    async def open(cls, path: str | Path, *, clock: Clock | None = None) -> SqliteStore:
        """Open (creating it and its parent directories if needed) the database at ``path``."""
        location = str(path)
        connection: aiosqlite.Connection | None = None
        try:
            if location != MEMORY:
                location = await asyncio.to_thread(_prepare_directory, Path(path))
            connection = await aiosqlite.connect(location, isolation_level=None)
            connection.row_factory = sqlite3.Row
            await _configure(connection)
        except (OSError, sqlite3.Error) as exc:
            if connection is not None:
                await connection.close()
            raise StorageUnavailableError(
                f"cannot open SQLite database at {location}: {exc}"
            ) from exc
        log.info("opened SQLite store at %s", location)
        return cls(connection, location, clock=clock)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[SqlSession]:
        async with self._lock:
            if self._connection is None:
                raise StorageUnavailableError(f"the store at {self.url} is closed")
            try:
                yield _SqliteSession(self._connection)
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StorageUnavailableError(
                        f"SQLite database {self.path} stayed locked by another writer "
                        f"for over {BUSY_TIMEOUT_MS / 1000:g}s: {exc}"
                    ) from exc
                raise

    @asynccontextmanager
    async def order_gate(
        self, account: str, *, timeout: float = GATE_TIMEOUT_S
    ) -> AsyncIterator[None]:
        """This account's check-and-send, one at a time across processes (``flock``)."""
        # Tasks of this process queue here, so only one of them polls the file lock.
        local = self._gates.setdefault(account, asyncio.Lock())
        try:
            await asyncio.wait_for(local.acquire(), timeout)
        except TimeoutError:
            raise busy(account, timeout) from None
        try:
            if self.path == MEMORY:
                yield
            else:
                async with file_gate(gate_file(self.path, account), account, timeout):
                    yield
        finally:
            local.release()

    @asynccontextmanager
    async def process_lease(self, owner: str) -> AsyncIterator[None]:
        """Hold ``owner``'s lease (a ``flock`` beside the database) for the block."""
        if self.path == MEMORY:
            yield
            return
        async with file_lease(f"{self.path}.lease-{owner}"):
            yield

    async def lease_alive(self, owner: str) -> bool:
        """Whether the process holding ``owner``'s lease is still running."""
        if self.path == MEMORY:
            return True  # nothing outside this process can see an in-memory database
        return await asyncio.to_thread(file_lease_alive, f"{self.path}.lease-{owner}")

    def _migration_session(self) -> AbstractAsyncContextManager[SqlSession]:
        # SQLite serialises writers itself (BEGIN IMMEDIATE + busy timeout).
        return self._session()

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        async with self._lock:
            connection, self._connection = self._connection, None
            if connection is not None:
                await connection.close()


def _prepare_directory(path: Path) -> str:
    """Absolute path of the database file, after creating the directories it lives in."""
    location = path.expanduser().absolute()
    location.parent.mkdir(parents=True, exist_ok=True)
    return str(location)


async def _configure(connection: aiosqlite.Connection) -> None:
    rows = await connection.execute_fetchall("PRAGMA journal_mode = WAL")
    mode = next(iter(rows))[0]
    if mode not in ("wal", "memory"):
        raise sqlite3.OperationalError(f"could not switch to WAL journal mode (got {mode})")
    for pragma in (
        "PRAGMA foreign_keys = ON",
        "PRAGMA synchronous = FULL",
        f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    ):
        await connection.execute_fetchall(pragma)
