"""The few database primitives both stores provide; all SQL logic is written against these."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from trading_core.storage.schema import Dialect

Row = dict[str, Any]


class UniqueViolation(Exception):
    """A write broke a primary-key or unique constraint (driver error translated by the session)."""


class SqlSession(Protocol):
    """One connection. Outside :meth:`transaction` every statement commits on its own."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, sql: str, *args: Any) -> None: ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """All statements inside commit together when the block exits, or none do."""
        ...
