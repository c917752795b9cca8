"""Databases for integration tests that run on both backends, each a scratch one of its own."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "TRADING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def new_postgres_database(prefix: str = "trading_scratch") -> str:
    """Create an empty PostgreSQL database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


async def drop_postgres_database(url: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A new database for this test: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'trading.db'}"
        return
    url = await new_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture
async def postgres_db_url() -> AsyncIterator[str]:
    """A new PostgreSQL database for this test (for what only PostgreSQL can do)."""
    url = await new_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)
