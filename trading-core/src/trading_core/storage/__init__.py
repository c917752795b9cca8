"""Storage: the ``Store`` port on PostgreSQL (asyncpg) and SQLite (aiosqlite), one schema.

Open with :func:`open_store` and bring the schema up to date with ``await store.upgrade()``.
"""

from trading_core.storage.factory import open_store
from trading_core.storage.postgres import PostgresStore
from trading_core.storage.sql_store import SqlStore
from trading_core.storage.sqlite import SqliteStore
from trading_core.storage.urls import mask_url

__all__ = ["PostgresStore", "SqlStore", "SqliteStore", "mask_url", "open_store"]
