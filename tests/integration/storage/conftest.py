"""Fixtures for the store contract: every test runs once on SQLite and once on PostgreSQL.

SQLite gets a file under ``tmp_path``. PostgreSQL gets one database created for the session
(``trading_test_<random>``, dropped at the end); before each test its schemas are dropped, so every
test starts from an empty, un-migrated database and never sees another test's rows.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from pydantic import BaseModel

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.fill import Fill
from trading_core.domain.market import Bar, Timeframe
from trading_core.domain.order import Order, Side
from trading_core.domain.signal import Decision, DecisionType
from trading_core.ports.store import Store
from trading_core.storage.factory import open_store
from trading_core.storage.rows import RowCodec
from trading_core.storage.schema import POSTGRES_SCHEMAS, Table
from trading_core.storage.sql_store import SqlStore
from trading_core.storage.statements import insert_sql

ADMIN_URL = os.environ.get(
    "TRADING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _run_in_own_loop(coroutine: Any) -> None:
    # A private thread keeps asyncio.run away from the event loops pytest-asyncio manages.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result(timeout=60)


async def _admin(sql: str, url: str = ADMIN_URL) -> None:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL database created for this test session and dropped afterwards."""
    name = f"trading_test_{secrets.token_hex(6)}"
    _run_in_own_loop(_admin(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(ADMIN_URL)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        _run_in_own_loop(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
async def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database for this test, as a URL ``open_store`` understands."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'trading.db'}"
    url: str = request.getfixturevalue("postgres_url")
    drops = "; ".join(f'DROP SCHEMA IF EXISTS "{s}" CASCADE' for s in POSTGRES_SCHEMAS)
    await _admin(drops, url)
    return url


@pytest.fixture
def t0() -> datetime:
    """The moment the fixtures' clock shows and the builders' default timestamps."""
    return T0


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


@pytest.fixture
async def fresh_store(store_url: str, clock: SimulatedClock) -> AsyncIterator[Store]:
    """A connected store on an empty database (no migrations applied)."""
    store = await open_store(store_url, clock=clock)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def store(fresh_store: Store) -> Store:
    """A connected store with the schema at the latest version."""
    await fresh_store.upgrade()
    return fresh_store


@pytest.fixture
def make_order() -> Callable[..., Order]:
    def build(**overrides: Any) -> Order:
        values: dict[str, Any] = {
            "order_id": "ord-1",
            "client_order_id": "cli-1",
            "symbol": "BTC/USD",
            "side": Side.BUY,
            "quantity": Decimal("0.5"),
            "limit_price": Decimal("42000.5"),
            "strategy_id": "ma_cross",
            "created_at": T0,
            "updated_at": T0,
        }
        values.update(overrides)
        return Order(**values)

    return build


@pytest.fixture
def make_fill() -> Callable[..., Fill]:
    def build(**overrides: Any) -> Fill:
        values: dict[str, Any] = {
            "fill_id": "fill-1",
            "order_id": "ord-1",
            "client_order_id": "cli-1",
            "symbol": "BTC/USD",
            "side": Side.BUY,
            "quantity": Decimal("0.25"),
            "price": Decimal("42000.5"),
            "commission": Decimal("0.01"),
            "timestamp": T0,
        }
        values.update(overrides)
        return Fill(**values)

    return build


@pytest.fixture
def make_bar() -> Callable[..., Bar]:
    def build(minute: int, close: str = "100", **overrides: Any) -> Bar:
        price = Decimal(close)
        values: dict[str, Any] = {
            "symbol": "BTC/USD",
            "timeframe": Timeframe.M1,
            "timestamp": T0 + timedelta(minutes=minute),
            "open": price,
            "high": price + 1,
            "low": price - 1,
            "close": price,
            "volume": Decimal("3.5"),
        }
        values.update(overrides)
        return Bar(**values)

    return build


@pytest.fixture
def make_decision() -> Callable[..., Decision]:
    def build(index: int = 0, **overrides: Any) -> Decision:
        values: dict[str, Any] = {
            "timestamp": T0 + timedelta(minutes=index),
            "decision_type": DecisionType.HOLD,
            "symbol": "BTC/USD",
            "signals": [{"agent": "trend", "score": 0.25, "reason": f"bar {index}"}],
            "risk_check": {"approved": True, "checks": ["max_notional"]},
            "final_action": "hold",
            "reasoning": f"nothing to do at bar {index}",
            "run_id": "run-a",
        }
        values.update(overrides)
        return Decision(**values)

    return build


async def insert_as_released(store: SqlStore, table: Table, model: BaseModel) -> None:
    """Write ``model`` into ``table`` as an older release defined it (before later columns)."""
    codec = RowCodec(store.dialect)
    async with store._session() as session:
        await session.execute(insert_sql(table, codec), *codec.encode_model(table, model))
