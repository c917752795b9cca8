"""Approvals (requests waiting for a person), on both backends: round trip, listing, single use."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from trading_core.adapters.clock import SimulatedClock
from trading_core.domain.approval import Approval, ApprovalKind, ApprovalStatus
from trading_core.domain.order import Order, Side
from trading_core.ports.store import Store
from trading_core.storage.factory import open_store, sqlite_path
from trading_core.storage.migrations import latest_version
from trading_core.storage.schema import APPROVALS, TABLES, Dialect, Table, physical_name
from trading_core.storage.schema_v1 import ORDERS_V1
from trading_core.storage.sql_store import SqlStore

from .conftest import insert_as_released

pytestmark = pytest.mark.integration

ORDER_PAYLOAD: dict[str, Any] = {
    "symbol": "BTC/USD",
    "side": "buy",
    "quantity": "0.50000000",  # trailing zeros are part of the value a person approved
    "limit_price": "40000.10",
    "tags": ["manual", None, True, 3],
    "limits": {"max_notional": "25000", "ratio": 0.25},
}


def approval(t0: datetime, **overrides: Any) -> Approval:
    values: dict[str, Any] = {
        "approval_id": "apr-1",
        "kind": ApprovalKind.PLACE_ORDER,
        "payload": ORDER_PAYLOAD,
        "summary": "buy 0.5 BTC/USD limit 40000.10 (~20000 USD)",
        "requested_by": "assistant:claude",
        "created_at": t0,
        "expires_at": t0 + timedelta(minutes=15),
    }
    values.update(overrides)
    return Approval(**values)


def claimed(pending: Approval, by: str, at: datetime) -> Approval:
    return pending.model_copy(
        update={"status": ApprovalStatus.CLAIMED, "decided_by": by, "decided_at": at}
    )


# round trip


async def test_every_field_round_trips(store: Store, t0: datetime) -> None:
    berlin = timezone(timedelta(hours=2))
    decided = approval(
        t0,
        kind=ApprovalKind.SET_RISK_LIMIT,
        status=ApprovalStatus.EXECUTED,
        created_at=datetime(2024, 3, 1, 14, 0, 0, 123456, tzinfo=berlin),
        expires_at=datetime(2024, 3, 1, 14, 15, 0, 1, tzinfo=berlin),
        decided_by="person:alice",
        decided_at=datetime(2024, 3, 1, 9, 1, 2, 999999, tzinfo=timezone(timedelta(hours=-3))),
        decision_reason="within the weekly plan",
        result={"order_status": "filled", "violations": [], "filled": "0.50000000"},
    )
    await store.save_approval(decided)

    got = await store.get_approval("apr-1")

    assert got == decided
    assert got is not None
    for moment in (got.created_at, got.expires_at, got.decided_at):
        assert moment is not None
        assert moment.utcoffset() == timedelta(0)
    assert got.created_at == datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert got.decided_at == datetime(2024, 3, 1, 12, 1, 2, 999999, tzinfo=UTC)
    assert got.payload["quantity"] == "0.50000000"


async def test_an_undecided_approval_round_trips_with_its_empty_fields(
    store: Store, t0: datetime
) -> None:
    pending = approval(t0, kind=ApprovalKind.RESUME_TRADING, payload={})
    await store.save_approval(pending)

    got = await store.get_approval("apr-1")

    assert got == pending
    assert got is not None
    assert (got.status, got.decided_by, got.decided_at, got.decision_reason, got.result) == (
        ApprovalStatus.PENDING,
        None,
        None,
        None,
        {},
    )
    assert await store.get_approval("apr-missing") is None


async def test_decimals_and_enums_in_a_payload_come_back_as_exact_strings(
    store: Store, t0: datetime
) -> None:
    tiny, large = Decimal("0.00000001"), Decimal("123456789.123456789000")
    await store.save_approval(
        approval(t0, payload={"quantity": tiny, "limit_price": large, "side": Side.SELL})
    )

    got = await store.get_approval("apr-1")

    assert got is not None
    assert got.payload == {"quantity": str(tiny), "limit_price": str(large), "side": "sell"}
    assert Decimal(got.payload["limit_price"]) == large


async def test_saving_an_approval_again_updates_it_in_place(store: Store, t0: datetime) -> None:
    pending = approval(t0)
    await store.save_approval(pending)
    expired = pending.model_copy(update={"status": ApprovalStatus.EXPIRED})

    await store.save_approval(expired)

    assert await store.get_approval("apr-1") == expired
    assert await store.list_approvals() == [expired]


# listing


async def test_approvals_are_listed_newest_first_and_filtered_by_status(
    store: Store, t0: datetime
) -> None:
    def at(approval_id: str, minute: int, status: ApprovalStatus) -> Approval:
        created = t0 + timedelta(minutes=minute)
        return approval(t0, approval_id=approval_id, created_at=created, status=status)

    oldest = at("a1", 1, ApprovalStatus.PENDING)
    middle = at("a2", 2, ApprovalStatus.CLAIMED)
    tie_low = at("a3", 3, ApprovalStatus.PENDING)
    tie_high = at("a4", 3, ApprovalStatus.REJECTED)  # same moment: the larger id comes first
    for item in (middle, tie_high, oldest, tie_low):
        await store.save_approval(item)

    assert await store.list_approvals() == [tie_high, tie_low, middle, oldest]
    assert await store.list_approvals(status=[ApprovalStatus.PENDING]) == [tie_low, oldest]
    waiting = [ApprovalStatus.PENDING, ApprovalStatus.CLAIMED]
    assert await store.list_approvals(status=waiting) == [tie_low, middle, oldest]
    assert await store.list_approvals(status=[ApprovalStatus.EXPIRED]) == []
    assert await store.list_approvals(status=[]) == []
    assert await store.list_approvals(limit=2) == [tie_high, tie_low]
    assert await store.list_approvals(status=[ApprovalStatus.PENDING], limit=1) == [tie_low]


# single use: compare-and-set


async def test_a_transition_is_written_only_from_the_expected_status(
    store: Store, t0: datetime
) -> None:
    pending = approval(t0)
    await store.save_approval(pending)
    claim = claimed(pending, "person:alice", t0 + timedelta(minutes=1))
    executed = claim.model_copy(
        update={"status": ApprovalStatus.EXECUTED, "result": {"order_status": "sent"}}
    )

    assert await store.transition_approval(claim, expected=ApprovalStatus.PENDING)
    assert await store.get_approval("apr-1") == claim
    assert await store.transition_approval(executed, expected=ApprovalStatus.CLAIMED)
    assert await store.get_approval("apr-1") == executed
    # A second claim on the same approval (a replay, a second window) finds it decided.
    assert not await store.transition_approval(claim, expected=ApprovalStatus.PENDING)
    assert await store.get_approval("apr-1") == executed


async def test_a_transition_from_the_wrong_status_returns_false_and_changes_nothing(
    store: Store, t0: datetime
) -> None:
    pending = approval(t0)
    await store.save_approval(pending)
    executed = claimed(pending, "person:bob", t0).model_copy(
        update={"status": ApprovalStatus.EXECUTED, "summary": "rewritten", "payload": {"x": "1"}}
    )

    assert not await store.transition_approval(executed, expected=ApprovalStatus.CLAIMED)
    assert await store.get_approval("apr-1") == pending
    assert await store.list_approvals() == [pending]


async def test_a_transition_of_an_unknown_approval_returns_false_and_creates_nothing(
    store: Store, t0: datetime
) -> None:
    ghost = claimed(approval(t0, approval_id="apr-ghost"), "person:alice", t0)

    assert not await store.transition_approval(ghost, expected=ApprovalStatus.PENDING)
    assert await store.get_approval("apr-ghost") is None


async def test_of_concurrent_claims_from_several_processes_exactly_one_wins(
    store: Store, store_url: str, clock: SimulatedClock, t0: datetime
) -> None:
    pending = approval(t0)
    await store.save_approval(pending)
    # Separate stores are separate connections, as the CLI and the MCP server would have.
    others = [await open_store(store_url, clock=clock) for _ in range(2)]
    try:
        stores = [store, *others]
        claims = [claimed(pending, f"person:{n}", t0 + timedelta(seconds=n)) for n in range(6)]
        async with asyncio.timeout(30):
            won = await asyncio.gather(
                *(
                    stores[n % len(stores)].transition_approval(
                        claim, expected=ApprovalStatus.PENDING
                    )
                    for n, claim in enumerate(claims)
                )
            )
        stored = await others[0].get_approval("apr-1")
    finally:
        for other in others:
            await other.close()

    assert won.count(True) == 1
    assert stored == claims[won.index(True)]


# schema and migrations


async def _columns(backend: str, url: str, table: Table) -> list[tuple[str, bool]]:
    """(name, nullable) of the table's columns in the live database, in order; [] when absent."""
    if backend == "sqlite":
        return await asyncio.to_thread(_sqlite_columns, Path(sqlite_path(url)), table)
    connection = await asyncpg.connect(url, timeout=10)
    try:
        rows = await connection.fetch(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            table.schema,
            table.name,
        )
    finally:
        await connection.close()
    return [(row["column_name"], row["is_nullable"] == "YES") for row in rows]


def _sqlite_columns(path: Path, table: Table) -> list[tuple[str, bool]]:
    raw = sqlite3.connect(path)
    try:
        name = physical_name(table.qualified_name, Dialect.SQLITE)
        rows = raw.execute(f'PRAGMA table_info("{name}")').fetchall()
    finally:
        raw.close()
    return [(row[1], not row[3]) for row in rows]


async def _index_names(backend: str, url: str, table: Table) -> set[str]:
    if backend == "sqlite":
        return await asyncio.to_thread(_sqlite_index_names, Path(sqlite_path(url)), table)
    connection = await asyncpg.connect(url, timeout=10)
    try:
        rows = await connection.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
            table.schema,
            table.name,
        )
    finally:
        await connection.close()
    return {row["indexname"] for row in rows}


def _sqlite_index_names(path: Path, table: Table) -> set[str]:
    raw = sqlite3.connect(path)
    try:
        name = physical_name(table.qualified_name, Dialect.SQLITE)
        rows = raw.execute(f'PRAGMA index_list("{name}")').fetchall()
    finally:
        raw.close()
    return {row[1] for row in rows}


def _declared(table: Table) -> list[tuple[str, bool]]:
    return [(column.name, column.nullable) for column in table.columns]


async def test_upgrading_a_version_1_database_adds_approvals_and_keeps_its_rows(
    fresh_store: Store,
    backend: str,
    store_url: str,
    t0: datetime,
    make_order: Callable[..., Order],
) -> None:
    assert isinstance(fresh_store, SqlStore)
    assert await fresh_store.upgrade(target=1) == [1]
    order = make_order()
    await insert_as_released(fresh_store, ORDERS_V1, order)
    assert await _columns(backend, store_url, APPROVALS) == []

    assert await fresh_store.upgrade() == list(range(2, latest_version() + 1))

    assert await fresh_store.schema_version() == latest_version()
    assert await _columns(backend, store_url, APPROVALS) == _declared(APPROVALS)
    assert "ix_trading_approvals_status_created_at" in await _index_names(
        backend, store_url, APPROVALS
    )
    assert await fresh_store.get_order(order.order_id) == order
    pending = approval(t0)
    await fresh_store.save_approval(pending)
    assert await fresh_store.get_approval("apr-1") == pending


async def test_an_upgrade_target_the_database_is_past_changes_nothing(store: Store) -> None:
    assert isinstance(store, SqlStore)
    assert await store.upgrade(target=1) == []
    assert await store.schema_version() == latest_version()
    with pytest.raises(ValueError, match="no migration has version"):
        await store.upgrade(target=latest_version() + 1)


async def test_the_migrated_database_has_every_declared_table_and_column(
    store: Store, backend: str, store_url: str
) -> None:
    for table in TABLES:
        live = await _columns(backend, store_url, table)
        if table.serial_column is None:
            assert live == _declared(table), table.qualified_name
        else:
            # SQLite reports its rowid alias as nullable although it never holds NULL.
            assert [name for name, _ in live] == list(table.column_names), table.qualified_name


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_on_postgres_approval_json_is_jsonb_and_times_are_timestamptz(
    store: Store, store_url: str
) -> None:
    connection = await asyncpg.connect(store_url, timeout=10)
    try:
        rows = await connection.fetch(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'trading' AND table_name = 'approvals'"
        )
    finally:
        await connection.close()
    types = {row["column_name"]: row["data_type"] for row in rows}
    assert (types["payload"], types["result"]) == ("jsonb", "jsonb")
    assert types["created_at"] == types["decided_at"] == "timestamp with time zone"
